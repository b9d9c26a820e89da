package dingtalk

import (
	"errors"
	"net/http"
	"slices"

	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// legacyError is an errcode of the legacy APIs (HTTP 200 always).
type legacyError struct {
	code int
	msg  string
}

// Legacy errcodes, as the legacy documentation and gateway give them.
var (
	legacySystem        = legacyError{-1, "系统繁忙"}
	legacyNotJSON       = legacyError{43009, "参数需要是json格式"}
	legacyNoName        = legacyError{40035, "群名称不能为空"}
	legacyLong          = legacyError{400002, "参数过长"}
	legacyNoOwner       = legacyError{49013, "群主不能为空"}
	legacyNoMembers     = legacyError{49010, "群成员不能为空"}
	legacyTooMany       = legacyError{49011, "群成员长度超限"}
	legacyBadUsers      = legacyError{40031, "无效的useridlist列表"}
	legacyNoChatID      = legacyError{49000, "需要参数chatid"}
	legacyBadChatID     = legacyError{40016, "无效的chatid"}
	legacyUnauthorized  = legacyError{43007, "需要授权"}
	legacyMissingToken  = legacyError{41001, "缺少access_token参数"}
	legacyInvalidToken  = legacyError{40014, "不合法的access_token"}
	legacyQPS           = legacyError{90018, "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了"}
	legacyMissingKey    = legacyError{40035, "缺少参数 corpid or appkey"}
	legacyBadKey        = legacyError{40096, "不合法的appKey或appSecret"}
	legacyInvalidParams = legacyError{40035, "缺少参数"}
	legacyNoSuchURI     = legacyError{404, "请求的URI地址不存在"}
	legacyWantGET       = legacyError{43001, "需要GET请求"}
	legacyWantPOST      = legacyError{43002, "需要POST请求"}
)

func (e legacyError) Error() string { return "dingtalk legacy " + itoa(e.code) + ": " + e.msg }

// legacyByReason maps domain reasons to legacy errcodes.
var legacyByReason = map[qun.Reason]legacyError{
	qun.ReasonTokenInvalid:       legacyInvalidToken,
	qun.ReasonTokenExpired:       legacyInvalidToken,
	qun.ReasonAppMissing:         legacyInvalidToken,
	qun.ReasonChatNotFound:       legacyBadChatID,
	qun.ReasonNotCreator:         legacyUnauthorized,
	qun.ReasonChatOtherTenant:    legacyUnauthorized,
	qun.ReasonOwnerInvisible:     legacyUnauthorized,
	qun.ReasonStandardNotAllowed: legacyUnauthorized,
	qun.ReasonAppNotInstalled:    legacyUnauthorized,
	qun.ReasonTooManyMembers:     legacyTooMany,
	qun.ReasonUnavailableIDs:     legacyBadUsers,
	qun.ReasonUserResigned:       legacyBadUsers,
	qun.ReasonOwnerInvalid:       legacyBadUsers,
	qun.ReasonNewOwnerNotInChat:  legacyBadUsers,
	qun.ReasonOwnerCannotLeave:   legacyBadUsers,
	qun.ReasonNoValidMembers:     legacyBadUsers,
}

func toLegacy(err error) legacyError {
	var le legacyError
	if errors.As(err, &le) {
		return le
	}
	e := qun.AsError(err)
	if row, ok := legacyByReason[e.Reason]; ok {
		return row
	}
	switch e.Code {
	case qun.EInvalid, qun.ENotFound, qun.EConflict:
		return legacyInvalidParams
	case qun.EForbidden:
		return legacyUnauthorized
	case qun.EUnavailable:
		return legacyInvalidToken
	}
	return legacySystem
}

// legacyBody is the legacy envelope; answers embed it first.
type legacyBody struct {
	Errcode int    `json:"errcode"`
	Errmsg  string `json:"errmsg"`
}

var legacyOK = legacyBody{Errcode: 0, Errmsg: "ok"}

// legacy registers a legacy API that needs any of perms. Its endpoint
// returns the whole answer, legacyOK embedded.
func (h *Handler) legacy(pattern string, perms []string, fn endpoint) {
	h.mux.Handle(pattern, httpx.Recover(h.log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{w: w, r: r, requestID: newRequestID()}
		httpx.Annotate(r, "dingtalk", pattern, c.requestID)
		data, err := h.serveLegacy(c, pattern, perms, fn)
		if err != nil {
			le := toLegacy(err)
			if le.code == legacySystem.code {
				h.log.Error("dingtalk: internal error", "requestid", c.requestID, "err", err)
			}
			httpx.RecordOf(r.Context()).Set(func(rec *httpx.Record) { rec.Code, rec.Err = itoa(le.code), err })
			data = legacyBody{Errcode: le.code, Errmsg: le.msg}
		}
		httpx.WriteJSON(w, http.StatusOK, contentType, data)
	}), func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, contentType, legacyBody{Errcode: legacySystem.code, Errmsg: legacySystem.msg})
	}))
}

// legacyNotFound answers an unknown legacy path (errcode 404) or a known
// one called with the wrong method (43001 or 43002), HTTP 200 as always.
func (h *Handler) legacyNotFound(w http.ResponseWriter, r *http.Request) {
	httpx.Annotate(r, "dingtalk", "unknown", "")
	e := legacyNoSuchURI
	switch allowed := httpx.Allowed(h.mux, r); {
	case slices.Contains(allowed, http.MethodGet):
		e = legacyWantGET
	case len(allowed) > 0:
		e = legacyWantPOST
	}
	httpx.RecordOf(r.Context()).Set(func(rec *httpx.Record) { rec.Code = itoa(e.code) })
	httpx.WriteJSON(w, http.StatusOK, contentType, legacyBody{Errcode: e.code, Errmsg: e.msg})
}

func (h *Handler) serveLegacy(c *call, route string, perms []string, fn endpoint) (any, error) {
	token := c.r.URL.Query().Get("access_token")
	if token == "" {
		return nil, legacyMissingToken
	}
	actor, err := h.svc.Authenticate(c.r.Context(), token, qun.CorpToken)
	if err != nil {
		return nil, err
	}
	c.actor = actor
	if limited, err := h.limited(c, route); err != nil {
		return nil, err
	} else if limited {
		return nil, legacyQPS
	}
	if !actor.App.HasScope(perms...) {
		return nil, legacyUnauthorized
	}
	return fn(c)
}

// legacyCreateBody is the body of POST /chat/create: the settings sit at
// the top level.
type legacyCreateBody struct {
	Name       *string  `json:"name"`
	Owner      *string  `json:"owner"`
	Useridlist []string `json:"useridlist"`
	managementOptions
}

type legacyCreateAnswer struct {
	legacyBody
	Chatid             string `json:"chatid"`
	OpenConversationID string `json:"openConversationId"`
	ConversationTag    int64  `json:"conversationTag"`
}

// maxLegacyUsers is how many users one legacy call may add.
const maxLegacyUsers = 40

// legacyCreate serves POST /chat/create?access_token=.
func (h *Handler) legacyCreate(c *call) (any, error) {
	var b legacyCreateBody
	if err := h.decode(c, &b, legacyNotJSON); err != nil {
		return nil, err
	}
	switch {
	case b.Name == nil || *b.Name == "":
		return nil, legacyNoName
	case !validName(*b.Name):
		return nil, legacyLong
	case b.Owner == nil || *b.Owner == "":
		return nil, legacyNoOwner
	case len(b.Useridlist) == 0:
		return nil, legacyNoMembers
	case len(b.Useridlist) > maxLegacyUsers:
		return nil, legacyTooMany
	case !slices.Contains(b.Useridlist, *b.Owner):
		return nil, legacyBadUsers // the owner must be one of useridlist
	case !b.managementOptions.valid():
		return nil, legacyInvalidParams
	}
	in := qun.NewChat{Name: *b.Name, Settings: qun.DefaultSettings(), Owner: &qun.Ref{Kind: qun.UserID, Value: *b.Owner}, Class: qun.Internal}
	b.managementOptions.apply(&in.Settings)
	in.Users = refs(qun.UserID, b.Useridlist)
	v, err := h.svc.CreateChat(c.r.Context(), c.actor, in)
	if err != nil {
		return nil, err
	}
	return legacyCreateAnswer{legacyBody: legacyOK, Chatid: v.Chat.ChatID, OpenConversationID: v.Chat.ConversationID, ConversationTag: tagOf(v.Chat.Class)}, nil
}

// legacyUpdateBody is the body of POST /chat/update.
type legacyUpdateBody struct {
	Chatid        *string  `json:"chatid"`
	Name          *string  `json:"name"`
	Owner         *string  `json:"owner"`
	OwnerType     *string  `json:"ownerType"`
	AddUseridlist []string `json:"add_useridlist"`
	DelUseridlist []string `json:"del_useridlist"`
	AddExtidlist  []string `json:"add_extidlist"`
	DelExtidlist  []string `json:"del_extidlist"`
	Icon          *string  `json:"icon"`
	IsBan         *bool    `json:"isBan"`
	managementOptions
}

// legacyUpdate serves POST /chat/update?access_token=.
func (h *Handler) legacyUpdate(c *call) (any, error) {
	var b legacyUpdateBody
	if err := h.decode(c, &b, legacyNotJSON); err != nil {
		return nil, err
	}
	switch {
	case b.Chatid == nil || *b.Chatid == "":
		return nil, legacyNoChatID
	case b.Name != nil && *b.Name == "":
		return nil, legacyNoName
	case b.Name != nil && !validName(*b.Name):
		return nil, legacyLong
	case len(b.AddUseridlist) > maxLegacyUsers || len(b.DelUseridlist) > maxLegacyUsers:
		return nil, legacyTooMany
	}
	opts := b.managementOptions
	if b.IsBan != nil {
		v := int32(0)
		if *b.IsBan {
			v = 1
		}
		opts.ChatBannedType = &v
	}
	ch, err := groupChange(b.Name, b.Owner, b.OwnerType, b.Icon, &opts, b.AddUseridlist, b.DelUseridlist, b.AddExtidlist, b.DelExtidlist)
	if err != nil {
		return nil, legacyInvalidParams
	}
	if err := h.svc.UpdateChat(c.r.Context(), c.actor, *b.Chatid, ch); err != nil {
		return nil, err
	}
	return legacyOK, nil
}

// chatInfo is the chat_info of GET /chat/get.
type chatInfo struct {
	Name                string   `json:"name"`
	Owner               string   `json:"owner"`
	Useridlist          []string `json:"useridlist"`
	Extidlist           []string `json:"extidlist,omitempty"`
	Chatid              string   `json:"chatid"`
	ConversationTag     int64    `json:"conversationTag"`
	Icon                string   `json:"icon"`
	Status              int      `json:"status"`
	MentionAllAuthority int      `json:"mentionAllAuthority"`
	ShowHistoryType     int      `json:"showHistoryType"`
	ValidationType      int      `json:"validationType"`
	Searchable          int      `json:"searchable"`
	ChatBannedType      int      `json:"chatBannedType"`
	ManagementType      int      `json:"managementType"`
}

type legacyGetAnswer struct {
	legacyBody
	ChatInfo chatInfo `json:"chat_info"`
}

// legacyGet serves GET /chat/get?access_token=&chatid=.
func (h *Handler) legacyGet(c *call) (any, error) {
	id := c.r.URL.Query().Get("chatid")
	if id == "" {
		return nil, legacyNoChatID
	}
	info, err := h.svc.GetChat(c.r.Context(), c.actor, id, true)
	if err != nil {
		return nil, err
	}
	ch := info.Chat
	out := chatInfo{Name: ch.Name, Chatid: ch.ChatID, ConversationTag: tagOf(ch.Class), Icon: ch.Avatar, Status: 1, Useridlist: []string{}}
	if ch.Status == qun.Dissolved {
		out.Status = 2
	}
	if info.Owner != nil {
		out.Owner = info.Owner.UserID
	}
	for _, u := range info.Members {
		if u.Kind == qun.ExternalUser {
			out.Extidlist = append(out.Extidlist, u.UserID)
		} else {
			out.Useridlist = append(out.Useridlist, u.UserID)
		}
	}
	out.MentionAllAuthority, out.ShowHistoryType, out.ValidationType, out.Searchable, out.ChatBannedType, out.ManagementType = optionsOf(ch.Settings)
	return legacyGetAnswer{legacyBody: legacyOK, ChatInfo: out}, nil
}
