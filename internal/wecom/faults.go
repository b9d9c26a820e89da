package wecom

import (
	"net/http"
	"strconv"

	"github.com/qunhq/qun/internal/qun"
)

// faultErrors are the fault presets as WeCom's errcodes.
var faultErrors = map[string]apiError{
	"rate_limited":  errFrequency,
	"token_invalid": errInvalidToken,
	"system_error":  errSystem,
}

// WriteFault answers a call with an injected error, as WeCom answers it:
// HTTP 200, {errcode, errmsg} and the Error-Code and Error-Msg headers.
func (h *Handler) WriteFault(w http.ResponseWriter, r *http.Request, f qun.Fault) {
	e, ok := faultErrors[f.Error]
	if !ok {
		code, _ := strconv.Atoi(f.Code)
		e = apiError{code, f.Message}
	}
	h.write(h.newCall(w, r, "fault"), nil, e)
}
