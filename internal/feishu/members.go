package feishu

import (
	"fmt"

	"github.com/qunhq/qun/internal/qun"
)

// memberIDTypes are the member_id_type values; app_id names bots.
var memberIDTypes = map[string]qun.IDKind{"open_id": qun.OpenID, "union_id": qun.UnionID, "user_id": qun.UserID, "app_id": qun.AppID}

// memberIDType parses member_id_type; allowBots admits app_id.
func memberIDType(c *call, allowBots bool) (qun.IDKind, error) {
	v := c.r.URL.Query().Get("member_id_type")
	if v == "app_id" {
		if !allowBots {
			return "", fail(errInvalidParam).field("member_id_type", v, "must be one of: open_id, union_id, user_id")
		}
		return qun.AppID, nil
	}
	if v != "" {
		var k qun.IDKind
		if err := pick("member_id_type", &v, memberIDTypes, &k); err != nil {
			return "", err
		}
	}
	return queryIDType(c, "member_id_type")
}

// idLimits checks the per-request limits of member lists: at most 50 users
// or 5 bots.
func idLimits(field string, kind qun.IDKind, ids []string) error {
	limit, what := 50, "users"
	if kind == qun.AppID {
		limit, what = 5, "bots"
	}
	if len(ids) > limit {
		return fail(errInvalidParam).field(field, fmt.Sprint(len(ids)), fmt.Sprintf("at most %d %s per request", limit, what))
	}
	return nil
}

type idListBody struct {
	IDList []string `json:"id_list"`
}

// idList reads member_id_type and the body's id_list of the member calls.
func (h *Handler) idList(c *call) ([]qun.Ref, error) {
	kind, err := memberIDType(c, true)
	if err != nil {
		return nil, err
	}
	var b idListBody
	if err := h.decode(c, &b); err != nil {
		return nil, err
	}
	if err := idLimits("id_list", kind, b.IDList); err != nil {
		return nil, err
	}
	return refs(kind, b.IDList), nil
}

// addedMembers is the data of POST /chats/:chat_id/members.
type addedMembers struct {
	InvalidIDList         []string `json:"invalid_id_list"`
	NotExistedIDList      []string `json:"not_existed_id_list"`
	PendingApprovalIDList []string `json:"pending_approval_id_list"`
}

var succeedTypes = map[string]qun.AddMode{"0": qun.AddSkipResigned, "1": qun.AddWhatCan, "2": qun.AddAllOrNothing}

// addMembers serves POST /open-apis/im/v1/chats/:chat_id/members.
func (h *Handler) addMembers(c *call) (any, error) {
	mode := qun.AddSkipResigned
	if v := c.r.URL.Query().Get("succeed_type"); v != "" {
		if err := pick("succeed_type", &v, succeedTypes, &mode); err != nil {
			return nil, err
		}
	}
	ids, err := h.idList(c)
	if err != nil {
		return nil, err
	}
	res, err := h.svc.AddMembers(c.r.Context(), c.actor, c.r.PathValue("chat_id"), ids, mode)
	data := addedMembers{InvalidIDList: orEmpty(res.Invalid), NotExistedIDList: orEmpty(res.NotExisted), PendingApprovalIDList: orEmpty(res.Pending)}
	if err != nil {
		f := toFailure(err)
		if mode == qun.AddAllOrNothing && qun.ErrorReason(err) == qun.ReasonUnavailableIDs {
			f.data = data // succeed_type 2 lists the IDs at fault
		}
		return nil, f
	}
	return data, nil
}

func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// removedMembers is the data of DELETE /chats/:chat_id/members.
type removedMembers struct {
	InvalidIDList []string `json:"invalid_id_list"`
}

// removeMembers serves DELETE /open-apis/im/v1/chats/:chat_id/members; the
// IDs come in the body.
func (h *Handler) removeMembers(c *call) (any, error) {
	ids, err := h.idList(c)
	if err != nil {
		return nil, err
	}
	invalid, err := h.svc.RemoveMembers(c.r.Context(), c.actor, c.r.PathValue("chat_id"), ids)
	if err != nil {
		return nil, err
	}
	return removedMembers{InvalidIDList: orEmpty(invalid)}, nil
}

// listedMember is an item of GET /chats/:chat_id/members.
type listedMember struct {
	MemberIDType string `json:"member_id_type"`
	MemberID     string `json:"member_id"`
	Name         string `json:"name"`
	TenantKey    string `json:"tenant_key"`
}

// listMembers serves GET /open-apis/im/v1/chats/:chat_id/members: users
// only, bots left out.
func (h *Handler) listMembers(c *call) (any, error) {
	kind, err := memberIDType(c, false)
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(c)
	if err != nil {
		return nil, err
	}
	var after int64
	if tok := c.r.URL.Query().Get("page_token"); tok != "" {
		v, err := decodePageToken(tok, 1)
		if err != nil {
			return nil, fail(errInvalidParam).field("page_token", tok, "not a page token of this listing")
		}
		after = v[0]
	}
	res, err := h.svc.Members(c.r.Context(), c.actor, c.r.PathValue("chat_id"), after, limit)
	if err != nil {
		return nil, err
	}
	out := memberPage{Items: []listedMember{}, MemberTotal: res.Total}
	for _, m := range res.Users {
		out.Items = append(out.Items, listedMember{
			MemberIDType: string(kind), MemberID: userID(c.actor.App, m.User, kind), Name: m.User.Name, TenantKey: m.Tenant.Key,
		})
	}
	if res.Next != 0 {
		tok := encodePageToken(res.Next)
		out.PageToken, out.HasMore = &tok, true
	}
	return out, nil
}

type isInChatData struct {
	IsInChat bool `json:"is_in_chat"`
}

// isInChat serves GET /open-apis/im/v1/chats/:chat_id/members/is_in_chat.
func (h *Handler) isInChat(c *call) (any, error) {
	in, err := h.svc.IsInChat(c.r.Context(), c.actor, c.r.PathValue("chat_id"))
	if err != nil {
		return nil, err
	}
	return isInChatData{IsInChat: in}, nil
}

type managerBody struct {
	ManagerIDs []string `json:"manager_ids"`
}

// managerData lists a chat's managers after a change.
type managerData struct {
	ChatManagers    []string `json:"chat_managers"`
	ChatBotManagers []string `json:"chat_bot_managers"`
}

// addManagers serves POST /open-apis/im/v1/chats/:chat_id/managers/add_managers.
func (h *Handler) addManagers(c *call) (any, error) { return h.managers(c, true) }

// deleteManagers serves POST /open-apis/im/v1/chats/:chat_id/managers/delete_managers.
func (h *Handler) deleteManagers(c *call) (any, error) { return h.managers(c, false) }

func (h *Handler) managers(c *call, add bool) (any, error) {
	kind, err := memberIDType(c, true)
	if err != nil {
		return nil, err
	}
	var b managerBody
	if err := h.decode(c, &b); err != nil {
		return nil, err
	}
	if err := maxLen("manager_ids", len(b.ManagerIDs), 50); err != nil {
		return nil, err
	}
	if err := idLimits("manager_ids", kind, b.ManagerIDs); err != nil {
		return nil, err
	}
	if len(b.ManagerIDs) == 0 {
		return nil, toFailure(&qun.Error{Code: qun.EInvalid, Reason: qun.ReasonNoValidMembers, Message: "manager_ids is empty"})
	}
	res, err := h.svc.SetManagers(c.r.Context(), c.actor, c.r.PathValue("chat_id"), refs(kind, b.ManagerIDs), add, false)
	if err != nil {
		return nil, err
	}
	// Users are shown by the requested type; by open_id when it is app_id.
	shown := kind
	if shown == qun.AppID {
		shown = qun.OpenID
	}
	out := managerData{ChatManagers: []string{}, ChatBotManagers: []string{}}
	for _, u := range res.Users {
		out.ChatManagers = append(out.ChatManagers, userID(c.actor.App, u, shown))
	}
	for _, a := range res.Bots {
		out.ChatBotManagers = append(out.ChatBotManagers, a.Key)
	}
	return out, nil
}
