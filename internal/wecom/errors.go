package wecom

import (
	"errors"
	"strconv"

	"github.com/qunhq/qun/internal/qun"
)

// apiError is a WeCom errcode and the English text its errmsg starts with.
// The codes and their meanings are WeCom's global error table; WeCom
// publishes the texts only in Chinese, so the English ones are those its
// servers are seen to answer where known (40001, 40013, 40014, 41001,
// 42001, 40029, 60011, 86006) and qun's rendering of the table otherwise.
type apiError struct {
	code int
	text string
}

func (e apiError) Error() string { return "wecom " + strconv.Itoa(e.code) + ": " + e.text }

var (
	errSystem            = apiError{-1, "system busy"}
	errBadCredential     = apiError{40001, "invalid credential"}
	errBadCorpID         = apiError{40013, "invalid corpid"}
	errInvalidToken      = apiError{40014, "invalid access_token"}
	errBadCode           = apiError{40029, "invalid code"}
	errBadParameter      = apiError{40058, "invalid parameter"}
	errInvalidSuiteToken = apiError{40082, "invalid suite_token"}
	errBadSuiteID        = apiError{40083, "invalid suite_id"}
	errMissingToken      = apiError{41001, "access_token missing"}
	errMissingCorpID     = apiError{41002, "corpid missing"}
	errMissingSecret     = apiError{41004, "corpsecret missing"}
	errMissingCode       = apiError{41008, "missing code"}
	errMissingSuiteID    = apiError{41021, "suite_id missing"}
	errMissingSuiteToken = apiError{41022, "suite_access_token missing"}
	errMissingTicket     = apiError{41023, "suite_ticket missing"}
	errMissingSecret2    = apiError{41024, "suite_secret missing"}
	errExpiredToken      = apiError{42001, "access_token expired"}
	errExpiredSuiteToken = apiError{42009, "suite_access_token expired"}
	errFrequency         = apiError{45009, "api freq out of limit"}
	errDataFormat        = apiError{47001, "data format error"}
	errNoSuchAPI         = apiError{48002, "api forbidden"}
	errNoPrivilege       = apiError{60011, "no privilege to access/modify contact/party/agent "}
	errBadChatID         = apiError{86001, "invalid chatid"}
	errChatNotFound      = apiError{86003, "chatid not exist"}
	errBadChatName       = apiError{86004, "invalid chat name"}
	errBadOwner          = apiError{86005, "invalid chat owner"}
	errMemberCount       = apiError{86006, "invalid chat member list size"}
	errNotCreator        = apiError{86008, "not allow to operate chat not created by the app"}
	errNeedChatID        = apiError{86201, "need chatid"}
	errNeedOwner         = apiError{86203, "need chat owner"}
	errNeedMembers       = apiError{86204, "need chat member list"}
	errChatIDTooLong     = apiError{86205, "chatid too long"}
	errOwnerNotMember    = apiError{86207, "chat owner not in member list"}
	errChatIDExists      = apiError{86215, "chatid already exists"}
	errBadMembers        = apiError{86216, "invalid chat member userid"}
)

// coded is a failure whose errcode is fixed, with the error behind it for
// the log.
type coded struct {
	apiError
	cause error
}

func (c coded) Error() string { return c.apiError.Error() + ": " + c.cause.Error() }
func (c coded) Unwrap() error { return c.cause }

// byReason maps domain reasons to errcodes; byCode is the fallback.
var (
	byReason = map[qun.Reason]apiError{
		qun.ReasonTokenInvalid:      errInvalidToken,
		qun.ReasonTokenExpired:      errExpiredToken,
		qun.ReasonAppMissing:        errInvalidToken,
		qun.ReasonAppNotInstalled:   errInvalidToken,
		qun.ReasonChatNotFound:      errChatNotFound,
		qun.ReasonNotCreator:        errNotCreator,
		qun.ReasonChatOtherTenant:   errNotCreator,
		qun.ReasonChatDissolved:     errChatNotFound,
		qun.ReasonChatIDTaken:       errChatIDExists,
		qun.ReasonContentReview:     errBadChatName,
		qun.ReasonOwnerInvalid:      errBadOwner,
		qun.ReasonOwnerOtherTenant:  errBadOwner,
		qun.ReasonOwnerInvisible:    errBadOwner,
		qun.ReasonNewOwnerNotInChat: errBadOwner,
		qun.ReasonOwnerCannotLeave:  errNeedOwner,
		qun.ReasonTooManyMembers:    errMemberCount,
		qun.ReasonNoValidMembers:    errBadMembers,
		qun.ReasonUnavailableIDs:    errBadMembers,
		qun.ReasonUserResigned:      errBadMembers,
		qun.ReasonNotMember:         errBadMembers,
		qun.ReasonCodeInvalid:       errBadCode,
	}
	byCode = map[qun.Code]apiError{
		qun.EInvalid:     errBadParameter,
		qun.ENotFound:    errBadParameter,
		qun.EConflict:    errBadParameter,
		qun.EForbidden:   errNoPrivilege,
		qun.EUnavailable: errInvalidToken,
	}
)

// toAPIError maps an error to its errcode; unknown errors are -1.
func toAPIError(err error) apiError {
	var c coded
	if errors.As(err, &c) {
		return c.apiError
	}
	var e apiError
	if errors.As(err, &e) {
		return e
	}
	d := qun.AsError(err)
	if row, ok := byReason[d.Reason]; ok {
		return row
	}
	if row, ok := byCode[d.Code]; ok {
		return row
	}
	return errSystem
}
