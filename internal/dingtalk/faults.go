package dingtalk

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// faultErrors and faultLegacy are the fault presets in the new APIs'
// shape and the legacy errcodes.
var (
	faultErrors = map[string]apiError{
		"rate_limited":  errQPS,
		"token_invalid": {401, "InvalidAuthentication", "不合法的access_token"},
		"system_error":  errSystem,
	}
	faultLegacy = map[string]legacyError{
		"rate_limited":  {90018, "当前企业所有应用调用该接口次数已超限"},
		"token_invalid": {40014, "不合法的access_token"},
		"system_error":  legacySystem,
	}
)

// WriteFault answers a call with an injected error, as DingTalk answers
// it: the new APIs with a non-2xx status and {code, requestid, message},
// the legacy ones (/gettoken, /chat/*, sessionWebhook) with HTTP 200 and
// {errcode, errmsg}.
func (h *Handler) WriteFault(w http.ResponseWriter, r *http.Request, f qun.Fault) {
	if !strings.HasPrefix(r.URL.Path, "/v1.0/") {
		e, ok := faultLegacy[f.Error]
		if !ok {
			code, _ := strconv.Atoi(f.Code)
			e = legacyError{code, f.Message}
		}
		httpx.Annotate(r, "dingtalk", "fault", "")
		httpx.RecordOf(r.Context()).Set(func(rec *httpx.Record) { rec.Code = strconv.Itoa(e.code) })
		httpx.WriteJSON(w, http.StatusOK, contentType, legacyBody{Errcode: e.code, Errmsg: e.msg})
		return
	}
	e, ok := faultErrors[f.Error]
	if !ok {
		e = apiError{f.Status, f.Code, f.Message}
	}
	h.writeError(h.newCall(w, r, "fault"), fail(e))
}
