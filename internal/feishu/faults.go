package feishu

import (
	"net/http"
	"strconv"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// faultErrors are the fault presets in Feishu's shape.
var faultErrors = map[string]apiError{
	"rate_limited":  errRateLimited,
	"token_invalid": errInvalidToken,
	"system_error":  errInternal,
}

// WriteFault answers a call with an injected error, as Feishu answers
// it: the status, {code, msg, error: {log_id, troubleshooter}}, and for
// a rate limit the x-ogw-ratelimit headers.
func (h *Handler) WriteFault(w http.ResponseWriter, r *http.Request, f qun.Fault) {
	e, ok := faultErrors[f.Error]
	if !ok {
		code, _ := strconv.Atoi(f.Code)
		e = apiError{f.Status, code, f.Message}
	}
	if e.code == errRateLimited.code {
		w.Header().Set("x-ogw-ratelimit-limit", "50")
		w.Header().Set("x-ogw-ratelimit-reset", "1")
	}
	c := &call{w: w, r: r, logID: newLogID()}
	httpx.Annotate(r, "feishu", "fault", c.logID)
	h.writeError(c, fail(e))
}
