package qun

import (
	"errors"
	"fmt"
	"strings"
)

// Code is the broad class of a domain error. Every *Error has one; dialects
// fall back to it when they have no mapping for the error's Reason.
type Code string

// Error classes.
const (
	EInvalid     Code = "invalid"      // the request breaks a rule
	ENotFound    Code = "not_found"    // something named does not exist
	EConflict    Code = "conflict"     // a unique key is taken
	EForbidden   Code = "forbidden"    // the actor may not do this
	EUnavailable Code = "unavailable"  // the actor is disabled or unauthenticated
	ELimited     Code = "rate_limited" // too many requests
	EInternal    Code = "internal"     // a bug or a failed dependency
)

// Reason names the precise rule an error comes from. Dialects map reasons to
// their platform's error codes.
type Reason string

// Reasons. Directory and authentication:
const (
	ReasonBadCredentials  Reason = "bad_credentials"   // unknown app or wrong secret
	ReasonTokenInvalid    Reason = "token_invalid"     // unknown token, or a token of the wrong kind
	ReasonTokenExpired    Reason = "token_expired"     // expired token
	ReasonAppMissing      Reason = "app_missing"       // the acting app no longer exists
	ReasonAppNotInstalled Reason = "app_not_installed" // not installed or disabled in the tenant
	ReasonBotDisabled     Reason = "bot_disabled"      // the acting app has no bot ability
	ReasonScope           Reason = "scope"             // the app lacks a scope
)

// Reasons. Messages:
const (
	ReasonMuted           Reason = "muted"             // only the owner and managers may speak
	ReasonMessageNotFound Reason = "message_not_found" // no such message (in the chat)
	ReasonMessageRecalled Reason = "message_recalled"  // the message was recalled
	ReasonNotSender       Reason = "not_sender"        // only the sender may do this
	ReasonContent         Reason = "content"           // the content does not fit its type
)

// Reasons. Chat creation and change:
const (
	ReasonField                 Reason = "field"                   // a field is malformed
	ReasonPublicNameEmpty       Reason = "public_name_empty"       // public chat without a name
	ReasonPublicNameShort       Reason = "public_name_short"       // public chat name under 2 characters
	ReasonPublicNotAllowed      Reason = "public_not_allowed"      // the tenant forbids public chats
	ReasonRestrictedNotAllowed  Reason = "restricted_not_allowed"  // the tenant has no restricted mode
	ReasonRestrictedInvalid     Reason = "restricted_invalid"      // inconsistent restricted-mode settings
	ReasonHideCountNotAllowed   Reason = "hide_count_not_allowed"  // the tenant may not hide member counts
	ReasonHideCountChatType     Reason = "hide_count_chat_type"    // this chat type cannot hide its count
	ReasonContentReview         Reason = "content_review"          // a blocked word in name or description
	ReasonOwnerInvalid          Reason = "owner_invalid"           // the owner does not exist
	ReasonOwnerOtherTenant      Reason = "owner_other_tenant"      // the owner is in another tenant
	ReasonOwnerInvisible        Reason = "owner_invisible"         // the owner is outside the app's visible range
	ReasonStandardNotAllowed    Reason = "standard_not_allowed"    // the app may not create standard groups
	ReasonNotCreator            Reason = "not_creator"             // the app manages only the chats it created
	ReasonUserResigned          Reason = "user_resigned"           // a resigned user was invited
	ReasonUnavailableIDs        Reason = "unavailable_ids"         // IDs that name nobody the actor can see
	ReasonCrossApp              Reason = "cross_app"               // another app's open_id
	ReasonBotNotFound           Reason = "bot_not_found"           // an invited app has no usable bot
	ReasonExternalNotAllowed    Reason = "external_not_allowed"    // no permission for external chats
	ReasonExternalNeedsOwner    Reason = "external_needs_owner"    // an external chat needs a user owner
	ReasonExternalPublic        Reason = "external_public"         // external chats cannot be public
	ReasonLabelsScope           Reason = "labels_scope"            // no permission to manage labels
	ReasonUserIDNotAllowed      Reason = "user_id_not_allowed"     // store apps cannot use user_id
	ReasonChatNotFound          Reason = "chat_not_found"          // unknown chat
	ReasonChatOtherTenant       Reason = "chat_other_tenant"       // chat of another tenant
	ReasonChatDissolved         Reason = "chat_dissolved"          // chat was dissolved
	ReasonNotInChat             Reason = "not_in_chat"             // the actor is not a member
	ReasonTooManyBots           Reason = "too_many_bots"           // a chat's bot limit
	ReasonTooManyMembers        Reason = "too_many_members"        // a chat's member limit
	ReasonTooManyManagers       Reason = "too_many_managers"       // a chat's manager limit
	ReasonOwnerCannotLeave      Reason = "owner_cannot_leave"      // the owner cannot be removed
	ReasonNeedOwner             Reason = "need_owner"              // only the owner may do this
	ReasonNeedAdmin             Reason = "need_admin"              // only the owner, managers or the creator may do this
	ReasonCannotRemove          Reason = "cannot_remove"           // only the owner, managers or the creator may remove others
	ReasonEditOwnersOnly        Reason = "edit_owners_only"        // the chat lets only owner and managers edit it
	ReasonEditBasicOnly         Reason = "edit_basic_only"         // members may change only name, description and avatar
	ReasonNewOwnerNotInChat     Reason = "new_owner_not_in_chat"   // a new owner must be a member
	ReasonOwnerTransferExternal Reason = "owner_transfer_external" // ownership cannot leave the tenant
	ReasonPublicNameTaken       Reason = "public_name_taken"       // another public chat has the name
	ReasonAvatarInvalid         Reason = "avatar_invalid"          // not an image key
	ReasonNotExisted            Reason = "not_existed"             // IDs of a kind (in Field) that name nobody
	ReasonInvisible             Reason = "invisible"               // users the actor may not reach
	ReasonExternalInInternal    Reason = "external_in_internal"    // other tenants' users in an internal chat
	ReasonNoValidMembers        Reason = "no_valid_members"        // an ID list with nobody usable
	ReasonNotMember             Reason = "not_member"              // IDs of users who are not members of the chat
	ReasonChatIDTaken           Reason = "chat_id_taken"           // a caller-chosen chat ID is in use
	ReasonNoSession             Reason = "no_session"              // the member has no unexpired login session
	ReasonCodeInvalid           Reason = "code_invalid"            // an unknown, used or expired login code
	ReasonNotVisible            Reason = "not_visible"             // the member is outside the app's visible range
	ReasonCorpGroupDisabled     Reason = "corp_group_disabled"     // corp-group chats are off or the tenant has no links
	ReasonTooManyWithWeChat     Reason = "too_many_with_wechat"    // over the member limit of chats with WeChat contacts
)

// Error is a domain error: a class, the rule that produced it, a message for
// people and, for some reasons, the offending field or IDs.
type Error struct {
	Code    Code
	Reason  Reason
	Message string
	// Field names the offending request field, when one is to blame.
	Field string
	// IDs lists offending identifiers as the client wrote them.
	IDs []string
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("qun: ")
	b.WriteString(string(e.Code))
	if e.Reason != "" {
		b.WriteString(" (" + string(e.Reason) + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Field != "" {
		b.WriteString(" [field " + e.Field + "]")
	}
	if len(e.IDs) > 0 {
		fmt.Fprintf(&b, " %v", e.IDs)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of class code with a formatted message.
func Errorf(code Code, reason Reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EInvalid error about field.
func Invalid(reason Reason, field, message string) *Error {
	return &Error{Code: EInvalid, Reason: reason, Field: field, Message: message}
}

// AsError returns err as an *Error, wrapping errors that are not one as
// EInternal.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: EInternal, Message: "internal error", Err: err}
}

// ErrorCode returns the class of err, or "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	return AsError(err).Code
}

// ErrorReason returns the reason of err, or "" when it has none.
func ErrorReason(err error) Reason {
	if err == nil {
		return ""
	}
	return AsError(err).Reason
}
