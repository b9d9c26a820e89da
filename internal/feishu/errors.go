package feishu

import (
	"errors"
	"fmt"
	"strings"

	"github.com/qunhq/qun/internal/qun"
)

// apiError is one row of Feishu's error tables: HTTP status, code and the
// documented message.
type apiError struct {
	status int
	code   int
	msg    string
}

// Errors of the im/v1 chat APIs (HTTP 400), as their documentation lists them.
var (
	errInvalidParam        = apiError{400, 232001, "Your request contains an invalid request parameter."}
	errAppMissing          = apiError{400, 232004, "Such an app does NOT exist."}
	errChatRateLimited     = apiError{400, 232019, "The request has been rate limited."}
	errPublicNameShort     = apiError{400, 232020, "Name can NOT be less than two characters for public chats."}
	errBotNotFound         = apiError{400, 232021, "Bot can NOT be found."}
	errUserResigned        = apiError{400, 232022, "User has already resigned."}
	errContentReview       = apiError{400, 232023, "Chat information review failed while updating the chat."}
	errBotDisabled         = apiError{400, 232025, "Bot ability is not activated."}
	errOwnerInvalid        = apiError{400, 232030, "Your request specifies a user_id which is invalid."}
	errOwnerOtherTenant    = apiError{400, 232032, "The operator who will create the chat and the designated chat owner must be in the same tenant."}
	errExternalNotAllowed  = apiError{400, 232033, "The operator or invited bots does NOT have the authority to manage external chats without the scope."}
	errAppNotInstalled     = apiError{400, 232034, "The app is unavailable or inactivated by the tenant."}
	errLabelsScope         = apiError{400, 232037, "The operator or invited bots does NOT have the authority to manage chat labels without the scope."}
	errPublicNameEmpty     = apiError{400, 232042, "Public group chat's name should not be empty."}
	errUnavailableIDs      = apiError{400, 232043, "Your request contains unavailable ids."}
	errRestrictedForbidden = apiError{400, 232057, "The operator tenant doesn't have the permission to use restricted mode."}
	errExternalPublic      = apiError{400, 232069, "current chat type unsupported to set public."}
	errHideCountForbidden  = apiError{400, 232078, "The operator tenant doesn't have the permission to use hide_member_count_setting."}
	errHideCountChatType   = apiError{400, 232079, "Chat type not supported by hide_member_count_setting."}
	errPublicForbidden     = apiError{400, 232091, "Due to the security control requirements of this tenant, this tenant does not allow public group."}
)

// Generic errors of the open platform's gateway.
var (
	errMissingToken    = apiError{400, 99991661, "Missing access token for authorization. Please make a request with token attached."}
	errInvalidToken    = apiError{400, 99991663, "Invalid access token for authorization. Please make a request with token attached."}
	errScope           = apiError{400, 99991672, "Access denied. One of the following scopes is required: [%s]."}
	errCrossApp        = apiError{400, 99992361, "open_id cross app"}
	errFieldValidation = apiError{400, 99992402, "field validation failed"}
	errInternal        = apiError{500, 99991000, "internal error, please retry later"}
)

// Errors of the token endpoints, which always answer HTTP 200.
var (
	errTokenInvalidParam = apiError{200, 10003, "invalid param"}
	errTokenBadSecret    = apiError{200, 10014, "app secret invalid"}
)

// byReason maps domain error reasons to Feishu errors.
var byReason = map[qun.Reason]apiError{
	qun.ReasonField:                errInvalidParam,
	qun.ReasonTokenInvalid:         errInvalidToken,
	qun.ReasonAppMissing:           errAppMissing,
	qun.ReasonAppNotInstalled:      errAppNotInstalled,
	qun.ReasonBotDisabled:          errBotDisabled,
	qun.ReasonPublicNameEmpty:      errPublicNameEmpty,
	qun.ReasonPublicNameShort:      errPublicNameShort,
	qun.ReasonPublicNotAllowed:     errPublicForbidden,
	qun.ReasonRestrictedNotAllowed: errRestrictedForbidden,
	qun.ReasonRestrictedInvalid:    errInvalidParam,
	qun.ReasonHideCountNotAllowed:  errHideCountForbidden,
	qun.ReasonHideCountChatType:    errHideCountChatType,
	qun.ReasonContentReview:        errContentReview,
	qun.ReasonOwnerInvalid:         errOwnerInvalid,
	qun.ReasonOwnerOtherTenant:     errOwnerOtherTenant,
	qun.ReasonUserResigned:         errUserResigned,
	qun.ReasonUnavailableIDs:       errUnavailableIDs,
	qun.ReasonCrossApp:             errCrossApp,
	qun.ReasonBotNotFound:          errBotNotFound,
	qun.ReasonExternalNotAllowed:   errExternalNotAllowed,
	qun.ReasonExternalNeedsOwner:   errInvalidParam,
	qun.ReasonExternalPublic:       errExternalPublic,
	qun.ReasonLabelsScope:          errLabelsScope,
	qun.ReasonUserIDNotAllowed:     errInvalidParam,
	qun.ReasonTooManyBots:          errInvalidParam,
	qun.ReasonTooManyMembers:       errInvalidParam,
}

// byCode maps error classes to Feishu errors when the reason has no row.
var byCode = map[qun.Code]apiError{
	qun.EInvalid:     errInvalidParam,
	qun.ENotFound:    errInvalidParam,
	qun.EConflict:    errInvalidParam,
	qun.EForbidden:   errInvalidParam,
	qun.EUnavailable: errInvalidToken,
	qun.ELimited:     errChatRateLimited,
}

// fieldViolation is one entry of error.field_violations.
type fieldViolation struct {
	Field       string `json:"field"`
	Value       string `json:"value,omitempty"`
	Description string `json:"description,omitempty"`
}

// permissionViolation is one entry of error.permission_violations.
type permissionViolation struct {
	Type        string `json:"type"`
	Subject     string `json:"subject"`
	Description string `json:"description"`
}

// errorDetail is the "error" object of an error envelope.
type errorDetail struct {
	Message              string                `json:"message,omitempty"`
	LogID                string                `json:"log_id"`
	Troubleshooter       string                `json:"troubleshooter,omitempty"`
	FieldViolations      []fieldViolation      `json:"field_violations,omitempty"`
	PermissionViolations []permissionViolation `json:"permission_violations,omitempty"`
}

// errorBody is Feishu's error envelope.
type errorBody struct {
	Code  int         `json:"code"`
	Msg   string      `json:"msg"`
	Error errorDetail `json:"error"`
}

// failure is an error answer being prepared: a table row plus details.
type failure struct {
	apiError
	detail errorDetail
	cause  error
}

func fail(e apiError) *failure { return &failure{apiError: e} }

func (f *failure) Error() string { return fmt.Sprintf("feishu %d: %s", f.code, f.msg) }

// field adds a field violation.
func (f *failure) field(name, value, description string) *failure {
	f.detail.FieldViolations = append(f.detail.FieldViolations, fieldViolation{Field: name, Value: value, Description: description})
	return f
}

// toFailure maps any error to the Feishu answer for it.
func toFailure(err error) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	e := qun.AsError(err)
	row, ok := byReason[e.Reason]
	if !ok {
		row, ok = byCode[e.Code]
	}
	if !ok {
		return &failure{apiError: errInternal, cause: err}
	}
	f = &failure{apiError: row, cause: err}
	switch {
	case e.Reason == qun.ReasonCrossApp:
		f.msg = fmt.Sprintf("open_id cross app: %s", strings.Join(e.IDs, ","))
	case row.code == errInvalidParam.code || len(e.IDs) > 0 || e.Field != "":
		f.detail.Message = e.Message
		if e.Field != "" || len(e.IDs) > 0 {
			f.field(e.Field, strings.Join(e.IDs, ","), e.Message)
		}
	}
	return f
}

// troubleshooter is the link Feishu puts in error answers.
func troubleshooter(logID string, code int) string {
	return fmt.Sprintf("排查建议查看(Troubleshooting suggestions): https://open.feishu.cn/search?from=openapi&log_id=%s&code=%d", logID, code)
}

// statusText is used for the access log.
func statusText(code int) string {
	if code == 0 {
		return ""
	}
	return fmt.Sprint(code)
}
