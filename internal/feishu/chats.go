package feishu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// Wire types of the im/v1 chat APIs. Pointers tell "absent" from "zero".

type i18nNames struct {
	ZhCN *string `json:"zh_cn,omitempty"`
	EnUS *string `json:"en_us,omitempty"`
	JaJP *string `json:"ja_jp,omitempty"`
}

type restrictedModeSetting struct {
	Status                         *bool   `json:"status,omitempty"`
	ScreenshotHasPermissionSetting *string `json:"screenshot_has_permission_setting,omitempty"`
	DownloadHasPermissionSetting   *string `json:"download_has_permission_setting,omitempty"`
	MessageHasPermissionSetting    *string `json:"message_has_permission_setting,omitempty"`
}

// createChatBody is the body of POST /open-apis/im/v1/chats.
type createChatBody struct {
	Avatar                 *string                `json:"avatar"`
	Name                   *string                `json:"name"`
	Description            *string                `json:"description"`
	I18nNames              *i18nNames             `json:"i18n_names"`
	OwnerID                *string                `json:"owner_id"`
	UserIDList             []string               `json:"user_id_list"`
	BotIDList              []string               `json:"bot_id_list"`
	GroupMessageType       *string                `json:"group_message_type"`
	ChatMode               *string                `json:"chat_mode"`
	ChatType               *string                `json:"chat_type"`
	External               *bool                  `json:"external"`
	JoinMessageVisibility  *string                `json:"join_message_visibility"`
	LeaveMessageVisibility *string                `json:"leave_message_visibility"`
	MembershipApproval     *string                `json:"membership_approval"`
	Labels                 []string               `json:"labels"`
	ToolkitIDs             []string               `json:"toolkit_ids"`
	RestrictedModeSetting  *restrictedModeSetting `json:"restricted_mode_setting"`
	UrgentSetting          *string                `json:"urgent_setting"`
	VideoConferenceSetting *string                `json:"video_conference_setting"`
	EditPermission         *string                `json:"edit_permission"`
	ChatTags               []string               `json:"chat_tags"`
	PinManageSetting       *string                `json:"pin_manage_setting"`
	HideMemberCountSetting *string                `json:"hide_member_count_setting"`
}

// restrictedView is restricted_mode_setting in answers: every field present.
type restrictedView struct {
	Status                         bool   `json:"status"`
	ScreenshotHasPermissionSetting string `json:"screenshot_has_permission_setting"`
	DownloadHasPermissionSetting   string `json:"download_has_permission_setting"`
	MessageHasPermissionSetting    string `json:"message_has_permission_setting"`
}

// createdChat is the data of the create answer, fields in the documented
// order.
type createdChat struct {
	ChatID                 string         `json:"chat_id"`
	Avatar                 string         `json:"avatar"`
	Name                   string         `json:"name"`
	Description            string         `json:"description"`
	I18nNames              i18nNames      `json:"i18n_names"`
	OwnerID                string         `json:"owner_id,omitempty"`
	OwnerIDType            string         `json:"owner_id_type,omitempty"`
	UrgentSetting          string         `json:"urgent_setting"`
	VideoConferenceSetting string         `json:"video_conference_setting"`
	AddMemberPermission    string         `json:"add_member_permission"`
	ShareCardPermission    string         `json:"share_card_permission"`
	AtAllPermission        string         `json:"at_all_permission"`
	EditPermission         string         `json:"edit_permission"`
	GroupMessageType       string         `json:"group_message_type"`
	ChatMode               string         `json:"chat_mode"`
	ChatType               string         `json:"chat_type"`
	ChatTag                string         `json:"chat_tag,omitempty"`
	External               bool           `json:"external"`
	TenantKey              string         `json:"tenant_key"`
	JoinMessageVisibility  string         `json:"join_message_visibility"`
	LeaveMessageVisibility string         `json:"leave_message_visibility"`
	MembershipApproval     string         `json:"membership_approval"`
	ModerationPermission   string         `json:"moderation_permission"`
	Labels                 []string       `json:"labels,omitempty"`
	ToolkitIDs             []string       `json:"toolkit_ids,omitempty"`
	RestrictedModeSetting  restrictedView `json:"restricted_mode_setting"`
	HideMemberCountSetting string         `json:"hide_member_count_setting"`
}

// Enumerations, wire value to domain value.
var (
	idTypes = map[string]qun.IDKind{"open_id": qun.OpenID, "union_id": qun.UnionID, "user_id": qun.UserID}

	messageTypes = map[string]bool{"chat": false, "thread": true}
	chatModes    = map[string]string{"group": "group"}
	chatTypes    = map[string]qun.Visibility{"private": qun.Private, "public": qun.Public}
	visibilities = map[string]qun.Audience{"only_owner": qun.Owners, "all_members": qun.Everyone, "not_anyone": qun.NoOne}
	approvals    = map[string]bool{"no_approval_required": false, "approval_required": true}
	ownerOrAll   = map[string]qun.Audience{"only_owner": qun.Owners, "all_members": qun.Everyone}
	allOrNone    = map[string]qun.Audience{"all_members": qun.Everyone, "not_anyone": qun.NoOne}
	moderations  = map[string]qun.Audience{"only_owner": qun.Owners, "all_members": qun.Everyone, "moderator_list": qun.Moderators}
	shares       = map[string]bool{"allowed": true, "not_allowed": false}
)

// wire returns the wire value of a domain value in an enumeration.
func wire[T comparable](values map[string]T, v T) string {
	for k, x := range values {
		if x == v {
			return k
		}
	}
	return ""
}

// pick sets *dst from the wire value *v, if present; an unknown value is
// 232001 naming the field and the allowed values.
func pick[T any](field string, v *string, values map[string]T, dst *T) error {
	if v == nil {
		return nil
	}
	x, ok := values[*v]
	if !ok {
		allowed := slices.Sorted(maps.Keys(values))
		return fail(errInvalidParam).field(field, *v, "must be one of: "+strings.Join(allowed, ", "))
	}
	*dst = x
	return nil
}

// decodeBody decodes a JSON request body into v with the shared strict
// decoder. An empty body is an empty object. Malformed JSON, bytes after the
// value and wrong types are 232001 naming the field.
func decodeBody(raw []byte, v any) error {
	err := httpx.Unmarshal(raw, v)
	var (
		syn      *json.SyntaxError
		typ      *json.UnmarshalTypeError
		trailing *httpx.TrailingDataError
	)
	switch {
	case err == nil, errors.Is(err, httpx.ErrEmptyBody):
		return nil
	case errors.As(err, &syn):
		return fail(errInvalidParam).field("body", "", fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn))
	case errors.As(err, &trailing):
		return fail(errInvalidParam).field("body", "", "unexpected data after the JSON object")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return fail(errInvalidParam).field(field, typ.Value, "must be of type "+jsonType(typ.Type.String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fail(errInvalidParam).field("body", "", "truncated JSON")
	}
	return fail(errInvalidParam).field("body", "", err.Error())
}

// jsonType names a Go type in JSON's terms.
func jsonType(goType string) string {
	goType = strings.TrimPrefix(goType, "*")
	switch {
	case goType == "string":
		return "string"
	case goType == "bool":
		return "boolean"
	case strings.HasPrefix(goType, "[]"):
		return "array of " + jsonType(goType[2:])
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "number"
	}
	return "object"
}

// maxLen checks a documented length limit (a "数据校验规则"): violations are
// 99992402 with a field violation, as Feishu's gateway answers.
func maxLen(field string, n, limit int) error {
	if n > limit {
		return fail(errFieldValidation).field(field, fmt.Sprint(n), fmt.Sprintf("the max len is %d", limit))
	}
	return nil
}

// queryIDType parses a user_id_type (or member_id_type) query parameter.
func queryIDType(c *call, name string) (qun.IDKind, error) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return qun.OpenID, nil
	}
	k := qun.OpenID
	if err := pick(name, &v, idTypes, &k); err != nil {
		return "", err
	}
	if k == qun.UserID && c.actor.App.Kind != qun.StoreApp && !c.actor.App.HasScope(employeeIDScope) {
		return "", scopeFailure(c.actor.App, []string{employeeIDScope})
	}
	return k, nil
}

// employeeIDScope lets an app see user_ids.
const employeeIDScope = "contact:user.employee_id:readonly"

// queryBool parses a boolean query parameter.
func queryBool(c *call, name string) (bool, error) {
	switch v := c.r.URL.Query().Get(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fail(errInvalidParam).field(name, v, "must be true or false")
	}
}

func refs(kind qun.IDKind, ids []string) []qun.Ref {
	out := make([]qun.Ref, len(ids))
	for i, id := range ids {
		out[i] = qun.Ref{Kind: kind, Value: id}
	}
	return out
}

// createChat serves POST /open-apis/im/v1/chats.
func (h *Handler) createChat(c *call) (any, error) {
	idType, err := queryIDType(c, "user_id_type")
	if err != nil {
		return nil, err
	}
	botManager, err := queryBool(c, "set_bot_manager")
	if err != nil {
		return nil, err
	}
	uuid := c.r.URL.Query().Get("uuid")
	if err := maxLen("uuid", utf8.RuneCountInString(uuid), 50); err != nil {
		return nil, err
	}
	var body createChatBody
	if err := h.decode(c, &body); err != nil {
		return nil, err
	}
	if err := maxLen("user_id_list", len(body.UserIDList), 50); err != nil {
		return nil, err
	}
	if err := maxLen("bot_id_list", len(body.BotIDList), 5); err != nil {
		return nil, err
	}
	in, err := newChat(body)
	if err != nil {
		return nil, err
	}
	if body.OwnerID != nil && *body.OwnerID != "" {
		in.Owner = &qun.Ref{Kind: idType, Value: *body.OwnerID}
	}
	in.Users = refs(idType, body.UserIDList)
	in.Bots = refs(qun.AppID, body.BotIDList)
	in.BotManager = botManager
	in.Dedupe = uuid
	view, err := h.svc.CreateChat(c.r.Context(), c.actor, in)
	if err != nil {
		return nil, err
	}
	return h.createdChat(c, view, idType), nil
}

// newChat translates the wire body to the domain's request, applying
// Feishu's defaults.
func newChat(b createChatBody) (qun.NewChat, error) {
	in := qun.NewChat{Settings: qun.DefaultSettings()}
	st := &in.Settings
	in.Name, in.Description, in.Avatar = str(b.Name), str(b.Description), str(b.Avatar)
	if b.I18nNames != nil {
		in.I18nNames = newChatI18n(b.I18nNames)
	}
	in.External = b.External != nil && *b.External
	var mode string
	checks := []error{
		pick("group_message_type", b.GroupMessageType, messageTypes, &st.Threaded),
		pick("chat_mode", b.ChatMode, chatModes, &mode),
		pick("chat_type", b.ChatType, chatTypes, &st.Visibility),
		pick("join_message_visibility", b.JoinMessageVisibility, visibilities, &st.JoinNotice),
		pick("leave_message_visibility", b.LeaveMessageVisibility, visibilities, &st.LeaveNotice),
		pick("membership_approval", b.MembershipApproval, approvals, &st.ApprovalRequired),
		pick("urgent_setting", b.UrgentSetting, ownerOrAll, &st.WhoCanUrgent),
		pick("video_conference_setting", b.VideoConferenceSetting, ownerOrAll, &st.WhoCanVideo),
		pick("edit_permission", b.EditPermission, ownerOrAll, &st.WhoCanEdit),
		pick("pin_manage_setting", b.PinManageSetting, ownerOrAll, &st.WhoCanPin),
		pick("hide_member_count_setting", b.HideMemberCountSetting, ownerOrAll, &st.MemberCountFor),
	}
	if r := b.RestrictedModeSetting; r != nil {
		if r.Status != nil {
			st.Restricted.On = *r.Status
		}
		checks = append(checks,
			pick("restricted_mode_setting.screenshot_has_permission_setting", r.ScreenshotHasPermissionSetting, allOrNone, &st.Restricted.Screenshot),
			pick("restricted_mode_setting.download_has_permission_setting", r.DownloadHasPermissionSetting, allOrNone, &st.Restricted.Download),
			pick("restricted_mode_setting.message_has_permission_setting", r.MessageHasPermissionSetting, allOrNone, &st.Restricted.CopyForward),
		)
	}
	if f := mergeFailures(checks); f != nil {
		return qun.NewChat{}, f
	}
	st.Labels, st.Toolkits, st.Tags = b.Labels, b.ToolkitIDs, b.ChatTags
	return in, nil
}

// str is *p, or "" for nil.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// mergeFailures merges the failures of several checks into one answer that
// lists every offending field; it returns nil when every check passed.
func mergeFailures(errs []error) *failure {
	var out *failure
	for _, err := range errs {
		var f *failure
		if !errors.As(err, &f) {
			continue
		}
		if out == nil {
			out = f
			continue
		}
		out.detail.FieldViolations = append(out.detail.FieldViolations, f.detail.FieldViolations...)
	}
	return out
}

// userID returns the ID of u of kind, as app sees it.
func userID(app qun.App, u qun.User, kind qun.IDKind) string {
	switch kind {
	case qun.UnionID:
		return u.Alias(qun.UnionID, app.Developer)
	case qun.UserID:
		return u.UserID
	}
	return u.Alias(qun.OpenID, app.Key)
}

// avatarURL is the URL of an avatar image key.
func (h *Handler) avatarURL(key string) string {
	if key == "" {
		key = DefaultAvatar
	}
	return h.cfg.AvatarBase + key + "~100x100.jpg"
}

func i18nView(n qun.I18nNames) i18nNames {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return i18nNames{ZhCN: opt(n.ZhCN), EnUS: opt(n.EnUS), JaJP: opt(n.JaJP)}
}

func restrictedOf(r qun.Restricted) restrictedView {
	return restrictedView{
		Status:                         r.On,
		ScreenshotHasPermissionSetting: wire(allOrNone, r.Screenshot),
		DownloadHasPermissionSetting:   wire(allOrNone, r.Download),
		MessageHasPermissionSetting:    wire(allOrNone, r.CopyForward),
	}
}

// chatTag is the first tag of a chat in Feishu's order of precedence.
func chatTag(c qun.Chat) string {
	if c.External {
		return ""
	}
	return "inner"
}

func (h *Handler) createdChat(c *call, v qun.ChatView, idType qun.IDKind) createdChat {
	ch, st := v.Chat, v.Chat.Settings
	out := createdChat{
		ChatID:                 ch.ChatID,
		Avatar:                 h.avatarURL(ch.Avatar),
		Name:                   ch.Name,
		Description:            ch.Description,
		I18nNames:              i18nView(ch.I18nNames),
		UrgentSetting:          wire(ownerOrAll, st.WhoCanUrgent),
		VideoConferenceSetting: wire(ownerOrAll, st.WhoCanVideo),
		AddMemberPermission:    wire(ownerOrAll, st.WhoCanAddMembers),
		ShareCardPermission:    wire(shares, st.ShareAllowed),
		AtAllPermission:        wire(ownerOrAll, st.WhoCanMentionAll),
		EditPermission:         wire(ownerOrAll, st.WhoCanEdit),
		GroupMessageType:       wire(messageTypes, st.Threaded),
		ChatMode:               "group",
		ChatType:               wire(chatTypes, st.Visibility),
		ChatTag:                chatTag(ch),
		External:               ch.External,
		TenantKey:              v.Tenant.Key,
		JoinMessageVisibility:  wire(visibilities, st.JoinNotice),
		LeaveMessageVisibility: wire(visibilities, st.LeaveNotice),
		MembershipApproval:     wire(approvals, st.ApprovalRequired),
		ModerationPermission:   wire(moderations, st.WhoCanSpeak),
		Labels:                 st.Labels,
		ToolkitIDs:             st.Toolkits,
		RestrictedModeSetting:  restrictedOf(st.Restricted),
		HideMemberCountSetting: wire(ownerOrAll, st.MemberCountFor),
	}
	if v.Owner != nil {
		out.OwnerID, out.OwnerIDType = userID(c.actor.App, *v.Owner, idType), string(idType)
	}
	return out
}
