package dingtalk

import (
	"errors"

	"github.com/qunhq/qun/internal/qun"
)

// Errors of the new-style APIs. The group APIs' messages are those of
// their documentation; the gateway's are those it answers.
var (
	errParameter      = apiError{400, "parameter.invalid", "Invalid input parameter"}
	errPermCheck      = apiError{400, "permession.checkFailed", "Permission check failed"}
	errOwnerInvisible = apiError{400, "permession.checkFailed", "The group owner is not within the app visibility scope"}
	errSystem         = apiError{500, "system.error", "Try again. If it always fails, submit a ticket"}
	errMissingToken   = apiError{400, "AuthenticationFailed.MissingParameter", "缺少参数：x-acs-dingtalk-access-token"}
	errInvalidToken   = apiError{400, "InvalidAuthentication", "不合法的access_token"}
	errBadCredentials = apiError{400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret"}
	errPermission     = apiError{403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "没有调用该接口的权限，接口权限申请参考：https://open.dingtalk.com/document/orgapp-server/add-api-permission"}
	errQPS            = apiError{403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了"}
	errNoSuchAPI      = apiError{404, "InvalidAction.NotFound", "Specified api is not found"}
	errInvalidChatID  = apiError{400, "invalideChatId", "invalid chatId"}
	errConversation   = apiError{400, "invalidParameter.openConversationId.invalid", "openConversationId is invalid"}
	errRole           = apiError{400, "invalidParamter.role", "role is invalid"}
	errStaffNotFound  = apiError{400, "staff.not.found", "staff not found"}
	errInvalidStaff   = apiError{400, "invalid.staffid", "invalid staffid"}
	errSubAdminExceed = apiError{400, "subadmin.exceed", "sub administrators exceed the limit"}
	errGroupDissolved = apiError{400, "group.diaband", "the group has been disbanded"}
)

// byReason maps domain reasons to errors; byCode is the fallback.
var (
	byReason = map[qun.Reason]apiError{
		qun.ReasonTokenInvalid:       errInvalidToken,
		qun.ReasonTokenExpired:       errInvalidToken,
		qun.ReasonAppMissing:         errInvalidToken,
		qun.ReasonOwnerInvisible:     errOwnerInvisible,
		qun.ReasonStandardNotAllowed: errPermCheck,
		qun.ReasonNotCreator:         errPermCheck,
		qun.ReasonChatOtherTenant:    errPermCheck,
		qun.ReasonAppNotInstalled:    errPermCheck,
		qun.ReasonPublicNotAllowed:   errPermCheck,
		qun.ReasonOwnerCannotLeave:   errParameter,
	}
	byCode = map[qun.Code]apiError{
		qun.EInvalid:     errParameter,
		qun.ENotFound:    errParameter,
		qun.EConflict:    errParameter,
		qun.EForbidden:   errPermCheck,
		qun.EUnavailable: errInvalidToken,
	}
)

// toFailure maps an error to its new-style answer; overrides replace rows
// for one API.
func toFailure(err error, overrides map[qun.Reason]apiError) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	e := qun.AsError(err)
	row, ok := overrides[e.Reason]
	if !ok {
		row, ok = byReason[e.Reason]
	}
	if !ok {
		row, ok = byCode[e.Code]
	}
	if !ok {
		return &failure{apiError: errSystem, cause: err}
	}
	return &failure{apiError: row, cause: err}
}
