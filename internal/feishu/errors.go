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
	errEditOwnersOnly      = apiError{400, 232002, "No Permission: Only chat owner or admin can edit chat information in the current situation."}
	errAppMissing          = apiError{400, 232004, "Such an app does NOT exist."}
	errChatNotFound        = apiError{400, 232006, "Your request specifies a chat_id which is invalid."}
	errChatDissolved       = apiError{400, 232009, "Your request specifies a chat which has already been dissolved."}
	errChatOtherTenant     = apiError{400, 232010, "Operator and chat can NOT be in different tenants."}
	errNotInChat           = apiError{400, 232011, "Operator can NOT be out of the chat."}
	errNewOwnerNotInChat   = apiError{400, 232012, "New chat owner can NOT be out of the chat."}
	errTooManyMembers      = apiError{400, 232013, "You have reached the limit of maximum number of members a chat can have."}
	errCannotRemove        = apiError{400, 232014, "The token used in the request does NOT have the permissions necessary to complete the request."}
	errEditBasicOnly       = apiError{400, 232016, "Non-chat-owner or Non-chat-admin can only edit certain parts."}
	errNeedAdmin           = apiError{400, 232017, "No Permission: If the operator is NOT owner or creator with the scope, the operator can NOT complete the request."}
	errChatRateLimited     = apiError{400, 232019, "The request has been rate limited."}
	errPublicNameShort     = apiError{400, 232020, "Name can NOT be less than two characters for public chats."}
	errBotNotFound         = apiError{400, 232021, "Bot can NOT be found."}
	errUserResigned        = apiError{400, 232022, "User has already resigned."}
	errContentReview       = apiError{400, 232023, "Chat information review failed while updating the chat."}
	errInvisible           = apiError{400, 232024, "Users do not have the visibility of the app, or the operator does not have collaboration permissions with the target users."}
	errBotDisabled         = apiError{400, 232025, "Bot ability is not activated."}
	errPublicNameTaken     = apiError{400, 232026, "This name is already used in an existing public chat. Names of public chats are supposed to be different."}
	errNoValidMembers      = apiError{400, 232027, "There are no valid members in the ID list specified in your request."}
	errExternalInInternal  = apiError{400, 232028, "External members can Not be added to an internal group chat."}
	errOwnerInvalid        = apiError{400, 232030, "Your request specifies a user_id which is invalid."}
	errOwnerTransferExt    = apiError{400, 232031, "The chat and the new designated chat owner must be in the same tenant."}
	errOwnerOtherTenant    = apiError{400, 232032, "The operator who will create the chat and the designated chat owner must be in the same tenant."}
	errExternalNotAllowed  = apiError{400, 232033, "The operator or invited bots does NOT have the authority to manage external chats without the scope."}
	errAppNotInstalled     = apiError{400, 232034, "The app is unavailable or inactivated by the tenant."}
	errLabelsScope         = apiError{400, 232037, "The operator or invited bots does NOT have the authority to manage chat labels without the scope."}
	errNeedOwner           = apiError{400, 232038, "The operator is not chat owner, no permission to complete the request."}
	errTooManyManagers     = apiError{400, 232040, "The chat managers has reached the limit of maximum number."}
	errAvatarInvalid       = apiError{400, 232041, "The avatar key is illegal."}
	errPublicNameEmpty     = apiError{400, 232042, "Public group chat's name should not be empty."}
	errUnavailableIDs      = apiError{400, 232043, "Your request contains unavailable ids."}
	errRestrictedForbidden = apiError{400, 232057, "The operator tenant doesn't have the permission to use restricted mode."}
	errExternalPublic      = apiError{400, 232069, "current chat type unsupported to set public."}
	errOwnerCannotLeave    = apiError{400, 232076, "Can't kick chat owner."}
	errHideCountForbidden  = apiError{400, 232078, "The operator tenant doesn't have the permission to use hide_member_count_setting."}
	errHideCountChatType   = apiError{400, 232079, "Chat type not supported by hide_member_count_setting."}
	errPublicForbidden     = apiError{400, 232091, "Due to the security control requirements of this tenant, this tenant does not allow public group."}
)

// Generic errors of the open platform's gateway.
var (
	errRateLimited     = apiError{429, 99991400, "request trigger frequency limit"}
	errMissingToken    = apiError{400, 99991661, "Missing access token for authorization. Please make a request with token attached."}
	errInvalidToken    = apiError{400, 99991663, "Invalid access token for authorization. Please make a request with token attached."}
	errScope           = apiError{400, 99991672, "Access denied. One of the following scopes is required: [%s]."}
	errOpenIDsMissing  = apiError{400, 99992351, "these open ids not existed: %v"}
	errUserIDsMissing  = apiError{400, 99992360, "Your request contains not existed id."}
	errCrossApp        = apiError{400, 99992361, "open_id cross app"}
	errUnionIDsMissing = apiError{400, 99992364, "Your request contains not existed id."}
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
	qun.ReasonField:                 errInvalidParam,
	qun.ReasonTokenInvalid:          errInvalidToken,
	qun.ReasonTokenExpired:          errInvalidToken,
	qun.ReasonAppMissing:            errAppMissing,
	qun.ReasonAppNotInstalled:       errAppNotInstalled,
	qun.ReasonBotDisabled:           errBotDisabled,
	qun.ReasonPublicNameEmpty:       errPublicNameEmpty,
	qun.ReasonPublicNameShort:       errPublicNameShort,
	qun.ReasonPublicNotAllowed:      errPublicForbidden,
	qun.ReasonRestrictedNotAllowed:  errRestrictedForbidden,
	qun.ReasonRestrictedInvalid:     errInvalidParam,
	qun.ReasonHideCountNotAllowed:   errHideCountForbidden,
	qun.ReasonHideCountChatType:     errHideCountChatType,
	qun.ReasonContentReview:         errContentReview,
	qun.ReasonOwnerInvalid:          errOwnerInvalid,
	qun.ReasonOwnerOtherTenant:      errOwnerOtherTenant,
	qun.ReasonUserResigned:          errUserResigned,
	qun.ReasonUnavailableIDs:        errUnavailableIDs,
	qun.ReasonCrossApp:              errCrossApp,
	qun.ReasonBotNotFound:           errBotNotFound,
	qun.ReasonExternalNotAllowed:    errExternalNotAllowed,
	qun.ReasonExternalNeedsOwner:    errInvalidParam,
	qun.ReasonExternalPublic:        errExternalPublic,
	qun.ReasonLabelsScope:           errLabelsScope,
	qun.ReasonUserIDNotAllowed:      errInvalidParam,
	qun.ReasonTooManyBots:           errTooManyMembers,
	qun.ReasonTooManyMembers:        errTooManyMembers,
	qun.ReasonTooManyManagers:       errTooManyManagers,
	qun.ReasonChatNotFound:          errChatNotFound,
	qun.ReasonChatOtherTenant:       errChatOtherTenant,
	qun.ReasonChatDissolved:         errChatDissolved,
	qun.ReasonNotInChat:             errNotInChat,
	qun.ReasonOwnerCannotLeave:      errOwnerCannotLeave,
	qun.ReasonNeedOwner:             errNeedOwner,
	qun.ReasonNeedAdmin:             errNeedAdmin,
	qun.ReasonCannotRemove:          errCannotRemove,
	qun.ReasonEditOwnersOnly:        errEditOwnersOnly,
	qun.ReasonEditBasicOnly:         errEditBasicOnly,
	qun.ReasonNewOwnerNotInChat:     errNewOwnerNotInChat,
	qun.ReasonOwnerTransferExternal: errOwnerTransferExt,
	qun.ReasonPublicNameTaken:       errPublicNameTaken,
	qun.ReasonAvatarInvalid:         errAvatarInvalid,
	qun.ReasonInvisible:             errInvisible,
	qun.ReasonExternalInInternal:    errExternalInInternal,
	qun.ReasonNoValidMembers:        errNoValidMembers,
}

// missingByKind are the gateway's errors for IDs of a kind that name
// nobody.
var missingByKind = map[string]apiError{
	string(qun.OpenID):  errOpenIDsMissing,
	string(qun.UserID):  errUserIDsMissing,
	string(qun.UnionID): errUnionIDsMissing,
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

// errorBody is Feishu's error envelope. Some errors carry data too (the
// IDs a member call could not use).
type errorBody struct {
	Code  int         `json:"code"`
	Msg   string      `json:"msg"`
	Data  any         `json:"data,omitempty"`
	Error errorDetail `json:"error"`
}

// failure is an error answer being prepared: a table row plus details.
type failure struct {
	apiError
	detail errorDetail
	data   any
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
	if e.Reason == qun.ReasonNotExisted {
		row, ok = missingByKind[e.Field]
	}
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
	case row.code == errOpenIDsMissing.code:
		f.msg = fmt.Sprintf(row.msg, e.IDs)
		f.field("id_list", strings.Join(e.IDs, ","), e.Message)
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
