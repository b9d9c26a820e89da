package feishu

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// chatData is the data of GET /chats/:chat_id for a member, fields in the
// documented order. There is no chat_id in it.
type chatData struct {
	Avatar                 string         `json:"avatar"`
	Name                   string         `json:"name,omitempty"`
	Description            string         `json:"description"`
	I18nNames              i18nNames      `json:"i18n_names"`
	AddMemberPermission    string         `json:"add_member_permission"`
	ShareCardPermission    string         `json:"share_card_permission"`
	AtAllPermission        string         `json:"at_all_permission"`
	EditPermission         string         `json:"edit_permission"`
	OwnerIDType            string         `json:"owner_id_type,omitempty"`
	OwnerID                string         `json:"owner_id,omitempty"`
	UserManagerIDList      []string       `json:"user_manager_id_list,omitempty"`
	BotManagerIDList       []string       `json:"bot_manager_id_list,omitempty"`
	GroupMessageType       string         `json:"group_message_type"`
	ChatMode               string         `json:"chat_mode"`
	ChatType               string         `json:"chat_type"`
	ChatTag                string         `json:"chat_tag,omitempty"`
	JoinMessageVisibility  string         `json:"join_message_visibility"`
	LeaveMessageVisibility string         `json:"leave_message_visibility"`
	MembershipApproval     string         `json:"membership_approval"`
	ModerationPermission   string         `json:"moderation_permission"`
	External               bool           `json:"external"`
	TenantKey              string         `json:"tenant_key"`
	UserCount              *string        `json:"user_count,omitempty"`
	BotCount               *string        `json:"bot_count,omitempty"`
	Labels                 []string       `json:"labels,omitempty"`
	ToolkitIDs             []string       `json:"toolkit_ids,omitempty"`
	RestrictedModeSetting  restrictedView `json:"restricted_mode_setting"`
	UrgentSetting          string         `json:"urgent_setting"`
	VideoConferenceSetting string         `json:"video_conference_setting"`
	PinManageSetting       string         `json:"pin_manage_setting"`
	HideMemberCountSetting string         `json:"hide_member_count_setting"`
	ChatStatus             string         `json:"chat_status"`
}

// outsiderData is what a non-member gets: name, avatar, counts, status.
type outsiderData struct {
	Avatar     string  `json:"avatar"`
	Name       string  `json:"name,omitempty"`
	UserCount  *string `json:"user_count,omitempty"`
	BotCount   *string `json:"bot_count,omitempty"`
	ChatStatus string  `json:"chat_status"`
}

// counts are a chat's member counts as strings, or nils when the chat
// hides them from the caller.
func counts(info qun.ChatInfo) (users, bots *string) {
	if info.Chat.Settings.MemberCountFor == qun.Owners && !info.Admin {
		return nil, nil
	}
	u, b := strconv.Itoa(info.Users), strconv.Itoa(info.Bots)
	return &u, &b
}

// getChat serves GET /open-apis/im/v1/chats/:chat_id.
func (h *Handler) getChat(c *call) (any, error) {
	idType, err := queryIDType(c, "user_id_type")
	if err != nil {
		return nil, err
	}
	info, err := h.svc.GetChat(c.r.Context(), c.actor, c.r.PathValue("chat_id"), false)
	if err != nil {
		return nil, err
	}
	ch, st := info.Chat, info.Chat.Settings
	users, bots := counts(info)
	if info.Role == "" {
		return outsiderData{Avatar: h.avatarURL(ch.Avatar), Name: ch.Name, UserCount: users, BotCount: bots, ChatStatus: string(ch.Status)}, nil
	}
	out := chatData{
		Avatar:                 h.avatarURL(ch.Avatar),
		Name:                   ch.Name,
		Description:            ch.Description,
		I18nNames:              i18nView(ch.I18nNames),
		AddMemberPermission:    wire(ownerOrAll, st.WhoCanAddMembers),
		ShareCardPermission:    wire(shares, st.ShareAllowed),
		AtAllPermission:        wire(ownerOrAll, st.WhoCanMentionAll),
		EditPermission:         wire(ownerOrAll, st.WhoCanEdit),
		GroupMessageType:       wire(messageTypes, st.Threaded),
		ChatMode:               "group",
		ChatType:               wire(chatTypes, st.Visibility),
		ChatTag:                chatTag(ch),
		JoinMessageVisibility:  wire(visibilities, st.JoinNotice),
		LeaveMessageVisibility: wire(visibilities, st.LeaveNotice),
		MembershipApproval:     wire(approvals, st.ApprovalRequired),
		ModerationPermission:   wire(moderations, st.WhoCanSpeak),
		External:               ch.External,
		TenantKey:              info.Tenant.Key,
		UserCount:              users,
		BotCount:               bots,
		Labels:                 st.Labels,
		ToolkitIDs:             st.Toolkits,
		RestrictedModeSetting:  restrictedOf(st.Restricted),
		UrgentSetting:          wire(ownerOrAll, st.WhoCanUrgent),
		VideoConferenceSetting: wire(ownerOrAll, st.WhoCanVideo),
		PinManageSetting:       wire(ownerOrAll, st.WhoCanPin),
		HideMemberCountSetting: wire(ownerOrAll, st.MemberCountFor),
		ChatStatus:             string(ch.Status),
	}
	if info.Owner != nil {
		out.OwnerIDType, out.OwnerID = string(idType), userID(c.actor.App, *info.Owner, idType)
	}
	for _, u := range info.Managers {
		out.UserManagerIDList = append(out.UserManagerIDList, userID(c.actor.App, u, idType))
	}
	for _, b := range info.BotManagers {
		out.BotManagerIDList = append(out.BotManagerIDList, b.Key)
	}
	return out, nil
}

// updateChatBody is the body of PUT /open-apis/im/v1/chats/:chat_id.
type updateChatBody struct {
	Avatar                 *string                `json:"avatar"`
	Name                   *string                `json:"name"`
	Description            *string                `json:"description"`
	I18nNames              *i18nNames             `json:"i18n_names"`
	AddMemberPermission    *string                `json:"add_member_permission"`
	ShareCardPermission    *string                `json:"share_card_permission"`
	AtAllPermission        *string                `json:"at_all_permission"`
	EditPermission         *string                `json:"edit_permission"`
	OwnerID                *string                `json:"owner_id"`
	JoinMessageVisibility  *string                `json:"join_message_visibility"`
	LeaveMessageVisibility *string                `json:"leave_message_visibility"`
	MembershipApproval     *string                `json:"membership_approval"`
	Labels                 []string               `json:"labels"`
	ToolkitIDs             []string               `json:"toolkit_ids"`
	RestrictedModeSetting  *restrictedModeSetting `json:"restricted_mode_setting"`
	ChatType               *string                `json:"chat_type"`
	GroupMessageType       *string                `json:"group_message_type"`
	UrgentSetting          *string                `json:"urgent_setting"`
	VideoConferenceSetting *string                `json:"video_conference_setting"`
	PinManageSetting       *string                `json:"pin_manage_setting"`
	HideMemberCountSetting *string                `json:"hide_member_count_setting"`
}

// updateChat serves PUT /open-apis/im/v1/chats/:chat_id.
func (h *Handler) updateChat(c *call) (any, error) {
	idType, err := queryIDType(c, "user_id_type")
	if err != nil {
		return nil, err
	}
	var b updateChatBody
	if err := h.decode(c, &b); err != nil {
		return nil, err
	}
	ch, err := changeOf(b, idType)
	if err != nil {
		return nil, err
	}
	return nil, h.svc.UpdateChat(c.r.Context(), c.actor, c.r.PathValue("chat_id"), ch)
}

// changeOf translates an update body to the domain's change. Every
// enumeration is checked here, so that a bad value is 232001 whatever the
// chat; the core applies the values to the chat's current settings.
func changeOf(b updateChatBody, idType qun.IDKind) (qun.ChatChange, error) {
	var apply []func(*qun.Settings)
	set := func(fn func(*qun.Settings)) { apply = append(apply, fn) }
	checks := []error{
		change(set, "add_member_permission", b.AddMemberPermission, ownerOrAll, func(s *qun.Settings) *qun.Audience { return &s.WhoCanAddMembers }),
		change(set, "share_card_permission", b.ShareCardPermission, shares, func(s *qun.Settings) *bool { return &s.ShareAllowed }),
		change(set, "at_all_permission", b.AtAllPermission, ownerOrAll, func(s *qun.Settings) *qun.Audience { return &s.WhoCanMentionAll }),
		change(set, "edit_permission", b.EditPermission, ownerOrAll, func(s *qun.Settings) *qun.Audience { return &s.WhoCanEdit }),
		change(set, "join_message_visibility", b.JoinMessageVisibility, visibilities, func(s *qun.Settings) *qun.Audience { return &s.JoinNotice }),
		change(set, "leave_message_visibility", b.LeaveMessageVisibility, visibilities, func(s *qun.Settings) *qun.Audience { return &s.LeaveNotice }),
		change(set, "membership_approval", b.MembershipApproval, approvals, func(s *qun.Settings) *bool { return &s.ApprovalRequired }),
		change(set, "group_message_type", b.GroupMessageType, messageTypes, func(s *qun.Settings) *bool { return &s.Threaded }),
		change(set, "urgent_setting", b.UrgentSetting, ownerOrAll, func(s *qun.Settings) *qun.Audience { return &s.WhoCanUrgent }),
		change(set, "video_conference_setting", b.VideoConferenceSetting, ownerOrAll, func(s *qun.Settings) *qun.Audience { return &s.WhoCanVideo }),
		change(set, "pin_manage_setting", b.PinManageSetting, ownerOrAll, func(s *qun.Settings) *qun.Audience { return &s.WhoCanPin }),
		change(set, "hide_member_count_setting", b.HideMemberCountSetting, ownerOrAll, func(s *qun.Settings) *qun.Audience { return &s.MemberCountFor }),
		change(set, "chat_type", b.ChatType, chatTypes, func(s *qun.Settings) *qun.Visibility { return &s.Visibility }),
	}
	if r := b.RestrictedModeSetting; r != nil {
		checks = append(checks,
			change(set, "restricted_mode_setting.screenshot_has_permission_setting", r.ScreenshotHasPermissionSetting, allOrNone, func(s *qun.Settings) *qun.Audience { return &s.Restricted.Screenshot }),
			change(set, "restricted_mode_setting.download_has_permission_setting", r.DownloadHasPermissionSetting, allOrNone, func(s *qun.Settings) *qun.Audience { return &s.Restricted.Download }),
			change(set, "restricted_mode_setting.message_has_permission_setting", r.MessageHasPermissionSetting, allOrNone, func(s *qun.Settings) *qun.Audience { return &s.Restricted.CopyForward }),
		)
		if r.Status != nil {
			on := *r.Status
			set(func(s *qun.Settings) { s.Restricted.On = on })
		}
	}
	if f := mergeFailures(checks); f != nil {
		return qun.ChatChange{}, f
	}
	if b.Labels != nil {
		set(func(s *qun.Settings) { s.Labels = b.Labels })
	}
	if b.ToolkitIDs != nil {
		set(func(s *qun.Settings) { s.Toolkits = b.ToolkitIDs })
	}
	ch := qun.ChatChange{Name: b.Name, Description: b.Description, Avatar: b.Avatar}
	if b.I18nNames != nil {
		n := newChatI18n(b.I18nNames)
		ch.I18nNames = &n
	}
	if len(apply) > 0 {
		ch.Settings = func(s *qun.Settings) {
			for _, fn := range apply {
				fn(s)
			}
		}
	}
	if b.OwnerID != nil {
		ch.Owner = &qun.Ref{Kind: idType, Value: *b.OwnerID}
	}
	return ch, nil
}

// change checks an optional enumerated field and, when present, hands set
// a function that stores its value through dst.
func change[T any](set func(func(*qun.Settings)), field string, v *string, values map[string]T, dst func(*qun.Settings) *T) error {
	if v == nil {
		return nil
	}
	var x T
	if err := pick(field, v, values, &x); err != nil {
		return err
	}
	set(func(s *qun.Settings) { *dst(s) = x })
	return nil
}

func newChatI18n(n *i18nNames) qun.I18nNames {
	return qun.I18nNames{ZhCN: str(n.ZhCN), EnUS: str(n.EnUS), JaJP: str(n.JaJP)}
}

// deleteChat serves DELETE /open-apis/im/v1/chats/:chat_id (dissolve). A
// body, even "{}", is ignored.
func (h *Handler) deleteChat(c *call) (any, error) {
	return nil, h.svc.DissolveChat(c.r.Context(), c.actor, c.r.PathValue("chat_id"))
}

// listedChat is an item of the chat list and search answers.
type listedChat struct {
	ChatID      string   `json:"chat_id"`
	Avatar      string   `json:"avatar"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	OwnerID     string   `json:"owner_id,omitempty"`
	OwnerIDType string   `json:"owner_id_type,omitempty"`
	External    bool     `json:"external"`
	TenantKey   string   `json:"tenant_key"`
	Labels      []string `json:"labels,omitempty"`
	ChatStatus  string   `json:"chat_status"`
}

// page is a paged answer. page_token is left out, never "", when there is
// no next page: the SDK's iterators stop only then.
type page[T any] struct {
	Items     []T     `json:"items"`
	PageToken *string `json:"page_token,omitempty"`
	HasMore   bool    `json:"has_more"`
}

// memberPage is the data of GET /chats/:chat_id/members.
type memberPage struct {
	Items       []listedMember `json:"items"`
	PageToken   *string        `json:"page_token,omitempty"`
	HasMore     bool           `json:"has_more"`
	MemberTotal int            `json:"member_total"`
}

var sortTypes = map[string]qun.ChatOrder{"ByCreateTimeAsc": qun.ByCreation, "ByActiveTimeDesc": qun.ByActivity}

// listChats serves GET /open-apis/im/v1/chats.
func (h *Handler) listChats(c *call) (any, error) { return h.chatPage(c, false) }

// searchChats serves GET /open-apis/im/v1/chats/search.
func (h *Handler) searchChats(c *call) (any, error) { return h.chatPage(c, true) }

func (h *Handler) chatPage(c *call, search bool) (any, error) {
	idType, err := queryIDType(c, "user_id_type")
	if err != nil {
		return nil, err
	}
	q := qun.ChatQuery{Search: search, Keyword: c.r.URL.Query().Get("query")}
	if v := c.r.URL.Query().Get("sort_type"); v != "" && !search {
		if err := pick("sort_type", &v, sortTypes, &q.Order); err != nil {
			return nil, err
		}
	}
	if q.Limit, err = pageSize(c); err != nil {
		return nil, err
	}
	if tok := c.r.URL.Query().Get("page_token"); tok != "" {
		v, err := decodePageToken(tok, 3)
		if err != nil || (v[0] != int64(q.Order)) {
			return nil, fail(errInvalidParam).field("page_token", tok, "not a page token of this listing")
		}
		q.After = qun.ChatCursor{ID: v[1], Active: v[2]}
	}
	res, err := h.svc.ListChats(c.r.Context(), c.actor, q)
	if err != nil {
		return nil, err
	}
	out := page[listedChat]{Items: []listedChat{}}
	for _, info := range res.Chats {
		ch := info.Chat
		item := listedChat{
			ChatID: ch.ChatID, Avatar: h.avatarURL(ch.Avatar), Name: ch.Name, Description: ch.Description,
			External: ch.External, TenantKey: info.Tenant.Key, Labels: ch.Settings.Labels, ChatStatus: string(ch.Status),
		}
		if info.Owner != nil {
			item.OwnerID, item.OwnerIDType = userID(c.actor.App, *info.Owner, idType), string(idType)
		}
		out.Items = append(out.Items, item)
	}
	if res.Next != nil {
		tok := encodePageToken(int64(q.Order), res.Next.ID, res.Next.Active)
		out.PageToken, out.HasMore = &tok, true
	}
	return out, nil
}

// pageSize reads page_size: default 20, at most 100.
func pageSize(c *call) (int, error) {
	v := c.r.URL.Query().Get("page_size")
	if v == "" {
		return 20, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fail(errInvalidParam).field("page_size", v, "must be an integer from 1 to 100")
	}
	if err := maxLen("page_size", n, 100); err != nil {
		return 0, err
	}
	if n == 0 {
		n = 20
	}
	return n, nil
}

// Page tokens are opaque to clients: base64 of a versioned list of
// numbers.
func encodePageToken(v ...int64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatInt(x, 10)
	}
	return base64.StdEncoding.EncodeToString([]byte("qun1:" + strings.Join(parts, ":")))
}

func decodePageToken(tok string, n int) ([]int64, error) {
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return nil, err
	}
	rest, ok := strings.CutPrefix(string(raw), "qun1:")
	parts := strings.Split(rest, ":")
	if !ok || len(parts) != n {
		return nil, fmt.Errorf("malformed page token")
	}
	out := make([]int64, n)
	for i, p := range parts {
		if out[i], err = strconv.ParseInt(p, 10, 64); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decode reads and decodes the request body into v (an empty body is {}).
func (h *Handler) decode(c *call, v any) error {
	raw, err := httpx.ReadBody(c.w, c.r, h.cfg.MaxBody)
	if err != nil {
		return fail(errInvalidParam).field("body", "", err.Error())
	}
	return decodeBody(raw, v)
}

// Who may speak: PUT and GET /chats/:chat_id/moderation. qun keeps the
// two settings every chat has, only_owner and all_members; a list of
// chosen speakers (moderator_list) is not kept and is refused.

type moderationBody struct {
	ModerationSetting    *string  `json:"moderation_setting"`
	ModeratorAddedList   []string `json:"moderator_added_list"`
	ModeratorRemovedList []string `json:"moderator_removed_list"`
}

var speakers = map[string]qun.Audience{"only_owner": qun.Owners, "all_members": qun.Everyone}

func (h *Handler) updateModeration(c *call) (any, error) {
	if _, err := queryIDType(c, "user_id_type"); err != nil {
		return nil, err
	}
	var b moderationBody
	if err := h.decode(c, &b); err != nil {
		return nil, err
	}
	if len(b.ModeratorAddedList) > 0 || len(b.ModeratorRemovedList) > 0 {
		return nil, fail(errFieldValidation).field("moderator_added_list", "", "qun keeps no moderator list: use only_owner or all_members")
	}
	var ch qun.ChatChange
	var who qun.Audience
	if b.ModerationSetting != nil {
		if err := pick("moderation_setting", b.ModerationSetting, speakers, &who); err != nil {
			return nil, err
		}
		ch.Settings = func(s *qun.Settings) { s.WhoCanSpeak = who }
	}
	return nil, h.svc.UpdateChat(c.r.Context(), c.actor, c.r.PathValue("chat_id"), ch)
}

func (h *Handler) getModeration(c *call) (any, error) {
	if _, err := queryIDType(c, "user_id_type"); err != nil {
		return nil, err
	}
	info, err := h.svc.GetChat(c.r.Context(), c.actor, c.r.PathValue("chat_id"), false)
	if err != nil {
		return nil, err
	}
	if info.Role == "" {
		return nil, toFailure(qun.Errorf(qun.EForbidden, qun.ReasonNotInChat, "the bot is not in the chat"))
	}
	return map[string]any{"moderation_setting": wire(moderations, info.Chat.Settings.WhoCanSpeak), "has_more": false, "page_token": "", "items": []any{}}, nil
}
