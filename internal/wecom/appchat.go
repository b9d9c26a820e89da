package wecom

import (
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/qunhq/qun/internal/qun"
)

// App chats (群聊会话) are internal chats a self-built app creates and
// manages without being a member of them.

const (
	maxChatName   = 50   // utf-8 characters; longer names are cut
	maxChatID     = 32   // characters
	maxAppchatIDs = 2000 // members of an app chat, owner included
)

// chatIDChars is what a caller-chosen chatid may contain.
var chatIDChars = regexp.MustCompile(`^[0-9A-Za-z]+$`)

type createAppchatRequest struct {
	Name     *string  `json:"name"`
	Owner    *string  `json:"owner"`
	UserList []string `json:"userlist"`
	ChatID   *string  `json:"chatid"`
}

type createAppchatAnswer struct {
	envelope
	ChatID string `json:"chatid"`
}

// checkAppchatApp: only self-built apps whose visible range is the whole
// corporation may use the app-chat APIs (60011 otherwise).
func checkAppchatApp(a qun.App) error {
	if a.Kind != qun.SelfBuilt || len(a.Visible) > 0 {
		return errNoPrivilege
	}
	return nil
}

// checkChatID validates a caller-chosen chatid.
func checkChatID(id string) error {
	switch {
	case utf8.RuneCountInString(id) > maxChatID:
		return errChatIDTooLong
	case !chatIDChars.MatchString(id):
		return errBadChatID
	}
	return nil
}

// cutName keeps the first 50 characters of a chat name.
func cutName(s string) string {
	if utf8.RuneCountInString(s) <= maxChatName {
		return s
	}
	return string([]rune(s)[:maxChatName])
}

// newAppchat checks a create request against the documented limits: 2 to
// 2000 members; the owner, when not given, is the first of them, and must
// be one of them; a chatid, when given, of at most 32 letters and digits;
// the name cut to 50 characters.
func newAppchat(req createAppchatRequest) (qun.NewChat, error) {
	var in qun.NewChat
	if req.ChatID != nil && *req.ChatID != "" {
		if err := checkChatID(*req.ChatID); err != nil {
			return in, err
		}
		in.ChatID = *req.ChatID
	}
	switch {
	case len(req.UserList) == 0:
		return in, errNeedMembers
	case len(req.UserList) < 2 || len(req.UserList) > maxAppchatIDs:
		return in, errMemberCount
	case slices.Contains(req.UserList, ""):
		return in, errBadMembers
	}
	if distinct := len(slices.Compact(slices.Sorted(slices.Values(req.UserList)))); distinct < 2 {
		return in, errMemberCount // the same member twice is one
	}
	owner := req.UserList[0]
	if req.Owner != nil && *req.Owner != "" {
		owner = *req.Owner
		if !slices.Contains(req.UserList, owner) {
			return in, errOwnerNotMember
		}
	}
	if req.Name != nil {
		in.Name = cutName(*req.Name)
	}
	in.Class, in.Settings = qun.Internal, qun.DefaultSettings()
	in.Owner = &qun.Ref{Kind: qun.UserID, Value: owner}
	for _, id := range req.UserList {
		if ref := (qun.Ref{Kind: qun.UserID, Value: id}); id != owner && !slices.Contains(in.Users, ref) {
			in.Users = append(in.Users, ref)
		}
	}
	return in, nil
}

// createAppchat serves POST /cgi-bin/appchat/create; the chatid, when not
// given, is generated.
func (h *Handler) createAppchat(c *call) (any, error) {
	var req createAppchatRequest
	if err := h.decode(c, &req); err != nil {
		return nil, err
	}
	if err := checkAppchatApp(c.actor.App); err != nil {
		return nil, err
	}
	in, err := newAppchat(req)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.CreateChat(c.r.Context(), c.actor, in)
	if e := qun.AsError(err); e != nil && (e.Field == "owner_id" || e.Field == "owner") {
		return nil, coded{errBadOwner, err} // whatever the owner's fault
	} else if err != nil {
		return nil, err
	}
	return createAppchatAnswer{envelope: ok, ChatID: v.Chat.ChatID}, nil
}

type appchatInfo struct {
	ChatID   string   `json:"chatid"`
	Name     string   `json:"name"`
	Owner    string   `json:"owner"`
	UserList []string `json:"userlist"`
	ChatType int      `json:"chat_type"`
}

type getAppchatAnswer struct {
	envelope
	ChatInfo appchatInfo `json:"chat_info"`
}

// chatIDParam reads a chatid the app names: 86201 when absent, 86001 when
// malformed.
func chatIDParam(id string) error {
	if id == "" {
		return errNeedChatID
	}
	if utf8.RuneCountInString(id) > maxChatID || !chatIDChars.MatchString(id) {
		return errBadChatID
	}
	return nil
}

// getAppchat serves GET /cgi-bin/appchat/get?chatid=.
func (h *Handler) getAppchat(c *call) (any, error) {
	id := c.r.URL.Query().Get("chatid")
	if err := chatIDParam(id); err != nil {
		return nil, err
	}
	if err := checkAppchatApp(c.actor.App); err != nil {
		return nil, err
	}
	info, err := h.svc.GetChat(c.r.Context(), c.actor, id, true)
	if err != nil {
		return nil, err
	}
	out := appchatInfo{ChatID: info.Chat.ChatID, Name: info.Chat.Name, UserList: []string{}}
	if info.Owner != nil {
		out.Owner = info.Owner.UserID
	}
	for _, u := range info.Members {
		out.UserList = append(out.UserList, u.UserID)
	}
	return getAppchatAnswer{envelope: ok, ChatInfo: out}, nil
}

type updateAppchatRequest struct {
	ChatID      *string  `json:"chatid"`
	Name        *string  `json:"name"`
	Owner       *string  `json:"owner"`
	AddUserList []string `json:"add_user_list"`
	DelUserList []string `json:"del_user_list"`
}

// updateAppchat serves POST /cgi-bin/appchat/update: a new name, a new
// owner (who may be among the added members) and members added and
// removed, all or nothing. Removing the owner needs a new one (86203);
// removing someone who is not in the chat is 86216.
func (h *Handler) updateAppchat(c *call) (any, error) {
	var req updateAppchatRequest
	if err := h.decode(c, &req); err != nil {
		return nil, err
	}
	id := ""
	if req.ChatID != nil {
		id = *req.ChatID
	}
	if err := chatIDParam(id); err != nil {
		return nil, err
	}
	if err := checkAppchatApp(c.actor.App); err != nil {
		return nil, err
	}
	if len(req.AddUserList) > maxAppchatIDs || len(req.DelUserList) > maxAppchatIDs {
		return nil, errMemberCount
	}
	if slices.Contains(req.AddUserList, "") || slices.Contains(req.DelUserList, "") {
		return nil, errBadMembers
	}
	ch := qun.ChatChange{StrictRemove: true}
	if req.Name != nil {
		name := cutName(*req.Name)
		ch.Name = &name
	}
	if req.Owner != nil && *req.Owner != "" {
		ch.Owner = &qun.Ref{Kind: qun.UserID, Value: *req.Owner}
	}
	for _, u := range req.AddUserList {
		ch.Add = append(ch.Add, qun.Ref{Kind: qun.UserID, Value: u})
	}
	for _, u := range req.DelUserList {
		ch.Remove = append(ch.Remove, qun.Ref{Kind: qun.UserID, Value: u})
	}
	if err := h.svc.UpdateChat(c.r.Context(), c.actor, id, ch); err != nil {
		return nil, err
	}
	return ok, nil
}
