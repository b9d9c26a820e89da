package dingtalk

import (
	"strconv"
	"unicode/utf8"

	"github.com/qunhq/qun/internal/qun"
)

func itoa(n int) string { return strconv.Itoa(n) }

// managementOptions are a group's settings as DingTalk writes them: each 0
// or 1.
type managementOptions struct {
	MentionAllAuthority *int32 `json:"mentionAllAuthority"`
	ShowHistoryType     *int32 `json:"showHistoryType"`
	ValidationType      *int32 `json:"validationType"`
	Searchable          *int32 `json:"searchable"`
	ChatBannedType      *int32 `json:"chatBannedType"`
	ManagementType      *int32 `json:"managementType"`
}

// valid reports whether every option present is 0 or 1.
func (o *managementOptions) valid() bool {
	if o == nil {
		return true
	}
	for _, v := range []*int32{o.MentionAllAuthority, o.ShowHistoryType, o.ValidationType, o.Searchable, o.ChatBannedType, o.ManagementType} {
		if v != nil && *v != 0 && *v != 1 {
			return false
		}
	}
	return true
}

// apply maps the options onto the core's settings: @all (0 everyone, 1
// owner), history for new members, join verification, searchable (public),
// mute all (only the owner and managers speak), management (0 everyone, 1
// owner).
func (o *managementOptions) apply(st *qun.Settings) {
	if o == nil {
		return
	}
	audience := func(v *int32, dst *qun.Audience) {
		if v != nil {
			*dst = map[int32]qun.Audience{0: qun.Everyone, 1: qun.Owners}[*v]
		}
	}
	flag := func(v *int32, dst *bool) {
		if v != nil {
			*dst = *v == 1
		}
	}
	audience(o.MentionAllAuthority, &st.WhoCanMentionAll)
	flag(o.ShowHistoryType, &st.HistoryVisible)
	flag(o.ValidationType, &st.ApprovalRequired)
	if o.Searchable != nil {
		st.Visibility = map[int32]qun.Visibility{0: qun.Private, 1: qun.Public}[*o.Searchable]
	}
	audience(o.ChatBannedType, &st.WhoCanSpeak)
	audience(o.ManagementType, &st.WhoCanEdit)
}

// optionsOf is the inverse of apply, for answers.
func optionsOf(st qun.Settings) (mentionAll, history, validation, searchable, banned, management int) {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return b(st.WhoCanMentionAll == qun.Owners), b(st.HistoryVisible), b(st.ApprovalRequired),
		b(st.Visibility == qun.Public), b(st.WhoCanSpeak == qun.Owners), b(st.WhoCanEdit == qun.Owners)
}

// validName checks DingTalk's group name rule: 1 to 20 characters.
func validName(name string) bool {
	n := utf8.RuneCountInString(name)
	return n >= 1 && n <= 20
}

// ownerRef names a group owner: an employee, or with ownerType "ext" an
// external contact.
func ownerRef(owner string, ownerType *string) (qun.Ref, bool) {
	switch {
	case ownerType == nil || *ownerType == "" || *ownerType == "emp":
		return qun.Ref{Kind: qun.UserID, Value: owner}, true
	case *ownerType == "ext":
		return qun.Ref{Kind: qun.ExternalID, Value: owner}, true
	}
	return qun.Ref{}, false
}

func refs(kind qun.IDKind, ids []string) []qun.Ref {
	out := make([]qun.Ref, len(ids))
	for i, id := range ids {
		out[i] = qun.Ref{Kind: kind, Value: id}
	}
	return out
}

var conversationTags = map[int64]qun.ChatClass{0: qun.Standard, 2: qun.Internal}

func tagOf(class qun.ChatClass) int64 {
	if class == qun.Standard {
		return 0
	}
	return 2
}

// createGroupBody is the body of POST /v1.0/im/group/create.
type createGroupBody struct {
	Name              *string            `json:"name"`
	Owner             *string            `json:"owner"`
	OwnerType         *string            `json:"ownerType"`
	Useridlist        []string           `json:"useridlist"`
	ConversationTag   *int64             `json:"conversationTag"`
	Extidlist         []string           `json:"extidlist"`
	Icon              *string            `json:"icon"`
	ManagementOptions *managementOptions `json:"managementOptions"`
}

// createGroupAnswer is its answer, keys in the documented order.
type createGroupAnswer struct {
	ConversationTag    int64  `json:"conversationTag"`
	OpenConversationID string `json:"openConversationId"`
	Chatid             string `json:"chatid"`
}

// createGroup serves POST /v1.0/im/group/create.
func (h *Handler) createGroup(c *call) (any, error) {
	var b createGroupBody
	if err := h.decode(c, &b, fail(errParameter)); err != nil {
		return nil, err
	}
	in, err := newGroup(b)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.CreateChat(c.r.Context(), c.actor, in)
	if err != nil {
		return nil, err
	}
	return createGroupAnswer{ConversationTag: tagOf(v.Chat.Class), OpenConversationID: v.Chat.ConversationID, Chatid: v.Chat.ChatID}, nil
}

// newGroup checks a create body against the documented rules and
// translates it to the core's request.
func newGroup(b createGroupBody) (qun.NewChat, error) {
	bad := fail(errParameter)
	if b.Name == nil || !validName(*b.Name) || b.Owner == nil || *b.Owner == "" || len(b.Useridlist) == 0 || !b.ManagementOptions.valid() {
		return qun.NewChat{}, bad
	}
	owner, ok := ownerRef(*b.Owner, b.OwnerType)
	if !ok {
		return qun.NewChat{}, bad
	}
	in := qun.NewChat{Name: *b.Name, Settings: qun.DefaultSettings(), Owner: &owner, Class: qun.Internal}
	if b.ConversationTag != nil {
		if in.Class, ok = conversationTags[*b.ConversationTag]; !ok {
			return qun.NewChat{}, bad
		}
	}
	if b.Icon != nil {
		in.Avatar = *b.Icon
	}
	b.ManagementOptions.apply(&in.Settings)
	in.Users = refs(qun.UserID, b.Useridlist)
	in.Contacts = refs(qun.ExternalID, b.Extidlist)
	return in, nil
}

// updateGroupBody is the body of POST /v1.0/im/group/update. The list keys
// are snake_case, the others camelCase, as the SDK sends them.
type updateGroupBody struct {
	Chatid            *string            `json:"chatid"`
	Name              *string            `json:"name"`
	Owner             *string            `json:"owner"`
	OwnerType         *string            `json:"ownerType"`
	AddUseridlist     []string           `json:"add_useridlist"`
	DelUseridlist     []string           `json:"del_useridlist"`
	AddExtidlist      []string           `json:"add_extidlist"`
	DelExtidlist      []string           `json:"del_extidlist"`
	Icon              *string            `json:"icon"`
	ManagementOptions *managementOptions `json:"managementOptions"`
}

type successAnswer struct {
	Success bool `json:"success"`
}

// updateGroup serves POST /v1.0/im/group/update.
func (h *Handler) updateGroup(c *call) (any, error) {
	var b updateGroupBody
	if err := h.decode(c, &b, fail(errParameter)); err != nil {
		return nil, err
	}
	if b.Chatid == nil || *b.Chatid == "" {
		return nil, fail(errParameter)
	}
	ch, err := groupChange(b.Name, b.Owner, b.OwnerType, b.Icon, b.ManagementOptions, b.AddUseridlist, b.DelUseridlist, b.AddExtidlist, b.DelExtidlist)
	if err != nil {
		return nil, err
	}
	if err := h.svc.UpdateChat(c.r.Context(), c.actor, *b.Chatid, ch); err != nil {
		return nil, err
	}
	return successAnswer{Success: true}, nil
}

// groupChange checks the fields of a group update (new or legacy) and
// translates them to the core's change.
func groupChange(name, owner, ownerType, icon *string, opts *managementOptions, addUsers, delUsers, addExt, delExt []string) (qun.ChatChange, error) {
	bad := fail(errParameter)
	if (name != nil && !validName(*name)) || !opts.valid() {
		return qun.ChatChange{}, bad
	}
	ch := qun.ChatChange{Name: name, Avatar: icon}
	if owner != nil {
		ref, ok := ownerRef(*owner, ownerType)
		if !ok || *owner == "" {
			return qun.ChatChange{}, bad
		}
		ch.Owner = &ref
	}
	if opts != nil {
		ch.Settings = opts.apply
	}
	ch.Add = append(refs(qun.UserID, addUsers), refs(qun.ExternalID, addExt)...)
	ch.Remove = append(refs(qun.UserID, delUsers), refs(qun.ExternalID, delExt)...)
	return ch, nil
}

type convertAnswer struct {
	OpenConversationID string `json:"openConversationId"`
}

// convertChatID serves POST /v1.0/im/chat/{chatId}/convertToOpenConversationId.
// It has no body.
func (h *Handler) convertChatID(c *call) (any, error) {
	info, err := h.svc.GetChat(c.r.Context(), c.actor, c.r.PathValue("chatId"), false)
	if err != nil {
		return nil, toFailure(err, map[qun.Reason]apiError{qun.ReasonChatNotFound: errInvalidChatID})
	}
	return convertAnswer{OpenConversationID: info.Chat.ConversationID}, nil
}

// subAdminBody is the body of POST /v1.0/im/subAdministrators.
type subAdminBody struct {
	OpenConversationID *string  `json:"openConversationId"`
	UserIDs            []string `json:"userIds"`
	Role               *int32   `json:"role"`
}

// subAdminAnswer's success is the string "true", as DingTalk answers it.
type subAdminAnswer struct {
	Success string `json:"success"`
}

// maxSubAdmins is how many users one sub-administrator call may name.
const maxSubAdmins = 12

// subAdministrators serves POST /v1.0/im/subAdministrators: role 2 makes
// the users administrators, role 3 plain members again.
func (h *Handler) subAdministrators(c *call) (any, error) {
	var b subAdminBody
	if err := h.decode(c, &b, fail(errParameter)); err != nil {
		return nil, err
	}
	switch {
	case b.OpenConversationID == nil || *b.OpenConversationID == "":
		return nil, fail(errConversation)
	case b.Role == nil || (*b.Role != 2 && *b.Role != 3):
		return nil, fail(errRole)
	case len(b.UserIDs) == 0:
		return nil, fail(errInvalidStaff)
	case len(b.UserIDs) > maxSubAdmins:
		return nil, fail(errSubAdminExceed)
	}
	_, err := h.svc.SetManagers(c.r.Context(), c.actor, *b.OpenConversationID, refs(qun.UserID, b.UserIDs), *b.Role == 2, true)
	if err != nil {
		return nil, toFailure(err, map[qun.Reason]apiError{
			qun.ReasonChatNotFound:    errConversation,
			qun.ReasonNotExisted:      errStaffNotFound,
			qun.ReasonNotMember:       errInvalidStaff,
			qun.ReasonNoValidMembers:  errInvalidStaff,
			qun.ReasonTooManyManagers: errSubAdminExceed,
			qun.ReasonChatDissolved:   errGroupDissolved,
		})
	}
	return subAdminAnswer{Success: "true"}, nil
}
