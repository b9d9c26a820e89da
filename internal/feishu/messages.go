package feishu

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/ratelimit"
)

// Messages: POST /open-apis/im/v1/messages (to a chat), reply, list a
// chat's history, get one, recall; and im.message.receive_v1 for what
// users post. Message APIs answer 230xxx codes, not the chat APIs' 232xxx.

// Errors of the message APIs.
var (
	errMsgInvalidParam = apiError{400, 230001, "Your request contains an invalid request parameter."}
	errMsgNotInChat    = apiError{400, 230002, "The bot can not be outside the group."}
	errMsgBotDisabled  = apiError{400, 230006, "Bot ability is not activated."}
	errMsgRecalled     = apiError{400, 230011, "The message was withdrawn."}
	errMsgNoAvailable  = apiError{400, 230013, "Bot has NO availability to this user."}
	errMsgNotSender    = apiError{400, 230012, "Bot is NOT the sender of the message."}
	errMsgSettings     = apiError{400, 230018, "These operations are NOT allowed at current group settings."}
	errMsgTooLong      = apiError{400, 230025, "The length of the message content reaches its limit."}
	errMsgTooFast      = apiError{429, 230020, "This operation triggers the frequency limit."}
)

// Scopes of the message APIs.
var (
	scopesSend    = []string{"im:message", "im:message:send_as_bot", "im:message:send"}
	scopesMsgRead = []string{"im:message", "im:message:readonly", "im:message.group_msg"}
)

// Content limits: text and post 150 KB, cards 30 KB.
const (
	maxTextContent = 150 << 10
	maxCardContent = 30 << 10
)

// msgTypes are the types a bot may send, with the member of the content
// document each needs ("" for any JSON object).
var msgTypes = map[string]string{
	"text": "text", "post": "", "image": "image_key", "file": "file_key", "audio": "file_key",
	"media": "file_key", "sticker": "file_key", "interactive": "", "share_chat": "chat_id", "share_user": "user_id",
}

type sendBody struct {
	ReceiveID *string `json:"receive_id"`
	MsgType   *string `json:"msg_type"`
	Content   *string `json:"content"`
	UUID      *string `json:"uuid"`
}

type replyBody struct {
	MsgType       *string `json:"msg_type"`
	Content       *string `json:"content"`
	ReplyInThread *bool   `json:"reply_in_thread"`
	UUID          *string `json:"uuid"`
}

// messageView is a message as the APIs answer it.
type messageView struct {
	MessageID  string        `json:"message_id"`
	RootID     string        `json:"root_id,omitempty"`
	ParentID   string        `json:"parent_id,omitempty"`
	ThreadID   string        `json:"thread_id,omitempty"`
	MsgType    string        `json:"msg_type"`
	CreateTime string        `json:"create_time"`
	UpdateTime string        `json:"update_time"`
	Deleted    bool          `json:"deleted"`
	Updated    bool          `json:"updated"`
	ChatID     string        `json:"chat_id"`
	Sender     senderView    `json:"sender"`
	Body       bodyView      `json:"body"`
	Mentions   []mentionView `json:"mentions,omitempty"`
}

type senderView struct {
	ID         string `json:"id"`
	IDType     string `json:"id_type"`
	SenderType string `json:"sender_type"`
	TenantKey  string `json:"tenant_key"`
}

type bodyView struct {
	Content string `json:"content"`
}

type mentionView struct {
	Key       string `json:"key"`
	ID        string `json:"id"`
	IDType    string `json:"id_type"`
	Name      string `json:"name"`
	TenantKey string `json:"tenant_key"`
}

// messageFailure maps an error of a message API to its 230xxx answer.
func messageFailure(err error) error {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	e := qun.AsError(err)
	row, ok := map[qun.Reason]apiError{
		qun.ReasonNotInChat:       errMsgNotInChat,
		qun.ReasonChatNotFound:    errMsgInvalidParam,
		qun.ReasonChatOtherTenant: errMsgNotInChat,
		qun.ReasonChatDissolved:   errMsgInvalidParam,
		qun.ReasonBotDisabled:     errMsgBotDisabled,
		qun.ReasonMuted:           errMsgSettings,
		qun.ReasonMessageNotFound: errMsgInvalidParam,
		qun.ReasonMessageRecalled: errMsgRecalled,
		qun.ReasonNotSender:       errMsgNotSender,
		qun.ReasonContent:         errMsgInvalidParam,
		qun.ReasonNotVisible:      errMsgNoAvailable,
		qun.ReasonUnavailableIDs:  errMsgInvalidParam,
		qun.ReasonCrossApp:        errCrossApp,
	}[e.Reason]
	if !ok {
		return toFailure(err)
	}
	f = &failure{apiError: row, cause: err}
	if row.code == errMsgInvalidParam.code {
		f.msg = row.msg[:len(row.msg)-1] + ", ext=" + e.Message + "."
	}
	return f
}

// perChat is Feishu's limit on messages into one chat, shared by its
// bots, and to one user: 5 a second.
var perChat = []ratelimit.Rule{{Limit: 5, Window: time.Second}}

// limitChat counts a message into a chat (or to a user, by the ID the
// client wrote) against perChat; off with the platform's limits.
func (h *Handler) limitChat(c *call, target string) error {
	if len(h.cfg.RateLimits) == 0 {
		return nil
	}
	d, err := h.cfg.Limiter.Allow(c.r.Context(), "feishu|messages-to|"+c.actor.Tenant.Key+"|"+target, perChat)
	if err != nil {
		return fmt.Errorf("feishu: rate limiter: %w", err)
	}
	if !d.Allowed {
		return fail(errMsgTooFast)
	}
	return nil
}

// atTag is a mention in text content: <at user_id="ou_…">Name</at>.
var atTag = regexp.MustCompile(`<at user_id="([^"]*)">([^<]*)</at>`)

// newMessage checks a message's type and content and reads its mentions:
// resolve finds the user an <at user_id="…"> names (an open_id of the
// calling app); a tag naming nobody stays as it is.
func newMessage(msgType, content *string, uuid *string, resolve func(openID string) (qun.User, error)) (qun.NewMessage, error) {
	if msgType == nil || content == nil {
		return qun.NewMessage{}, fail(errMsgInvalidParam).field("msg_type", "", "msg_type and content are required")
	}
	need, ok := msgTypes[*msgType]
	if !ok {
		return qun.NewMessage{}, messageFailure(qun.Invalid(qun.ReasonContent, "msg_type", "invalid msg_type"))
	}
	limit := maxTextContent
	if *msgType == "interactive" {
		limit = maxCardContent
	}
	if len(*content) > limit {
		return qun.NewMessage{}, fail(errMsgTooLong)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*content), &doc); err != nil || doc == nil {
		return qun.NewMessage{}, messageFailure(qun.Invalid(qun.ReasonContent, "content", "invalid message content"))
	}
	if need != "" {
		var v string
		if raw, ok := doc[need]; !ok || json.Unmarshal(raw, &v) != nil || v == "" {
			return qun.NewMessage{}, messageFailure(qun.Invalid(qun.ReasonContent, "content", "the content of msg_type "+*msgType+" needs "+need))
		}
	}
	m := qun.NewMessage{Type: *msgType, Content: *content}
	if uuid != nil {
		if len(*uuid) > 50 {
			return qun.NewMessage{}, fail(errFieldValidation).field("uuid", *uuid, "uuid is at most 50 characters")
		}
		m.Dedupe = *uuid
	}
	if *msgType == "text" {
		var text string
		json.Unmarshal(doc["text"], &text)
		n := 0
		var mentions []qun.Mention
		text = atTag.ReplaceAllStringFunc(text, func(tag string) string {
			sub := atTag.FindStringSubmatch(tag)
			n++
			key := "@_user_" + strconv.Itoa(n)
			mention := qun.Mention{Key: key, Name: sub[2]}
			if sub[1] == "all" {
				mention.All, mention.Key = true, "@_all"
				key = "@_all"
			} else if u, err := resolve(sub[1]); err == nil {
				mention.User = u.ID
			} else {
				return tag
			}
			mentions = append(mentions, mention)
			return key
		})
		if len(mentions) > 0 {
			raw, _ := json.Marshal(map[string]string{"text": text})
			m.Content, m.Mentions = string(raw), mentions
		}
	}
	return m, nil
}

// userByOpenID finds the user an open_id of the calling app names.
func (h *Handler) userByOpenID(c *call, openID string) (qun.User, error) {
	var u qun.User
	err := h.svc.Store().View(c.r.Context(), func(tx qun.Tx) error {
		var err error
		u, err = tx.UserByAlias(qun.OpenID, c.actor.App.Key, openID)
		return err
	})
	return u, err
}

func (h *Handler) sendMessage(c *call) (any, error) {
	q := c.r.URL.Query()
	idType := q.Get("receive_id_type")
	switch idType {
	case "chat_id", "open_id", "user_id", "union_id", "email":
	default:
		return nil, fail(errFieldValidation).field("receive_id_type", idType, "receive_id_type must be one of chat_id, open_id, user_id, union_id, email")
	}
	var b sendBody
	if err := h.decode(c, &b); err != nil {
		return nil, err
	}
	if b.ReceiveID == nil || *b.ReceiveID == "" {
		return nil, fail(errMsgInvalidParam).field("receive_id", "", "receive_id is required")
	}
	in, err := newMessage(b.MsgType, b.Content, b.UUID, func(id string) (qun.User, error) { return h.userByOpenID(c, id) })
	if err != nil {
		return nil, err
	}
	if err := h.limitChat(c, idType+":"+*b.ReceiveID); err != nil {
		return nil, err
	}
	var m qun.Message
	switch idType {
	case "chat_id":
		m, err = h.svc.SendMessage(c.r.Context(), c.actor, *b.ReceiveID, in)
	case "email":
		// qun's directory keeps no e-mail addresses: no user has one.
		err = fail(errMsgInvalidParam).field("receive_id", *b.ReceiveID, "no user has this email")
	default:
		// To a user: their one-to-one chat with the bot.
		m, err = h.svc.SendDirect(c.r.Context(), c.actor, qun.Ref{Kind: qun.IDKind(idType), Value: *b.ReceiveID}, in)
	}
	if err != nil {
		return nil, messageFailure(err)
	}
	return h.messageView(c, m)
}

func (h *Handler) replyMessage(c *call) (any, error) {
	var b replyBody
	if err := h.decode(c, &b); err != nil {
		return nil, err
	}
	in, err := newMessage(b.MsgType, b.Content, b.UUID, func(id string) (qun.User, error) { return h.userByOpenID(c, id) })
	if err != nil {
		return nil, err
	}
	parent, err := h.svc.MessageFor(c.r.Context(), c.actor, c.r.PathValue("message_id"))
	if err != nil {
		return nil, messageFailure(err)
	}
	if err := h.limitChat(c, "chat_id:"+parent.ChatID); err != nil {
		return nil, err
	}
	in.ReplyTo, in.InThread = parent.MessageID, b.ReplyInThread != nil && *b.ReplyInThread
	m, err := h.svc.SendMessage(c.r.Context(), c.actor, parent.ChatID, in)
	if err != nil {
		return nil, messageFailure(err)
	}
	return h.messageView(c, m)
}

func (h *Handler) getMessage(c *call) (any, error) {
	m, err := h.svc.MessageFor(c.r.Context(), c.actor, c.r.PathValue("message_id"))
	if err != nil {
		return nil, messageFailure(err)
	}
	v, err := h.messageView(c, m)
	return map[string]any{"items": []messageView{v}}, err
}

func (h *Handler) deleteMessage(c *call) (any, error) {
	if err := h.svc.RecallMessage(c.r.Context(), c.actor, "", c.r.PathValue("message_id")); err != nil {
		return nil, messageFailure(err)
	}
	return struct{}{}, nil
}

func (h *Handler) listMessages(c *call) (any, error) {
	q := c.r.URL.Query()
	if q.Get("container_id_type") != "chat" {
		return nil, fail(errFieldValidation).field("container_id_type", q.Get("container_id_type"), "container_id_type must be chat")
	}
	f := qun.MessageFilter{Limit: 20}
	for name, dst := range map[string]*time.Time{"start_time": &f.Since, "end_time": &f.Until} {
		if v := q.Get(name); v != "" {
			sec, err := strconv.ParseInt(v, 10, 64)
			if err != nil || sec < 0 {
				return nil, fail(errMsgInvalidParam).field(name, v, name+" is a Unix time in seconds")
			}
			*dst = time.Unix(sec, 0)
			if name == "end_time" {
				*dst = dst.Add(time.Second - time.Millisecond)
			}
		}
	}
	switch q.Get("sort_type") {
	case "", "ByCreateTimeAsc":
	case "ByCreateTimeDesc":
		f.Desc = true
	default:
		return nil, fail(errFieldValidation).field("sort_type", q.Get("sort_type"), "sort_type is ByCreateTimeAsc or ByCreateTimeDesc")
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			return nil, fail(errFieldValidation).field("page_size", v, "page_size is 1 to 50")
		}
		f.Limit = n
	}
	if tok := q.Get("page_token"); tok != "" {
		v, err := decodePageToken(tok, 2)
		if err != nil {
			return nil, fail(errMsgInvalidParam).field("page_token", tok, "invalid page_token")
		}
		f.After = &qun.MessageCursor{At: time.UnixMilli(v[0]), ID: v[1]}
	}
	want := f.Limit
	f.Limit++
	ms, err := h.svc.ChatMessages(c.r.Context(), c.actor, q.Get("container_id"), f)
	if err != nil {
		return nil, messageFailure(err)
	}
	out := struct {
		HasMore   bool          `json:"has_more"`
		PageToken string        `json:"page_token,omitempty"`
		Items     []messageView `json:"items"`
	}{Items: []messageView{}}
	if len(ms) > want {
		ms, out.HasMore = ms[:want], true
		last := ms[len(ms)-1]
		out.PageToken = encodePageToken(last.CreatedAt.UnixMilli(), last.ID)
	}
	for _, m := range ms {
		v, err := h.messageView(c, m)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

// messageView shows a message to the calling app.
func (h *Handler) messageView(c *call, m qun.Message) (messageView, error) {
	v := messageView{
		MessageID: m.MessageID, RootID: m.RootID, ParentID: m.ParentID, ThreadID: m.ThreadID, MsgType: m.Type,
		CreateTime: strconv.FormatInt(m.CreatedAt.UnixMilli(), 10), UpdateTime: strconv.FormatInt(m.UpdatedAt.UnixMilli(), 10),
		Deleted: m.Recalled, ChatID: m.ChatID, Body: bodyView{Content: m.Content},
	}
	if m.Recalled {
		v.Body.Content = "This message was recalled"
	}
	app := c.actor.App
	err := h.svc.Store().View(c.r.Context(), func(tx qun.Tx) error {
		tenantKey := func(id int64) (string, error) {
			t, err := tx.Tenant(id)
			return t.Key, err
		}
		var err error
		if m.SenderApp != 0 {
			a, err := tx.App(m.SenderApp)
			if err != nil {
				return err
			}
			v.Sender = senderView{ID: a.Key, IDType: "app_id", SenderType: "app"}
			v.Sender.TenantKey, err = tenantKey(a.TenantID)
			if err != nil {
				return err
			}
		} else {
			u, err := tx.User(m.SenderUser)
			if err != nil {
				return err
			}
			v.Sender = senderView{ID: userID(app, u, qun.OpenID), IDType: "open_id", SenderType: "user"}
			if v.Sender.TenantKey, err = tenantKey(u.TenantID); err != nil {
				return err
			}
		}
		for _, x := range m.Mentions {
			mv := mentionView{Key: x.Key, Name: x.Name, IDType: "open_id"}
			switch {
			case x.User != 0:
				u, err := tx.User(x.User)
				if err != nil {
					return err
				}
				mv.ID = userID(app, u, qun.OpenID)
				if mv.TenantKey, err = tenantKey(u.TenantID); err != nil {
					return err
				}
			case x.App != 0:
				b, err := tx.App(x.App)
				if err != nil {
					return err
				}
				mv.ID = botOpenID(b, app)
				if mv.TenantKey, err = tenantKey(b.TenantID); err != nil {
					return err
				}
			default:
				mv.ID, mv.IDType = "all", ""
			}
			v.Mentions = append(v.Mentions, mv)
		}
		return err
	})
	return v, err
}

// botOpenID is the open_id of bot as app sees it: qun derives it, stable
// across restarts.
func botOpenID(bot, app qun.App) string {
	sum := sha256.Sum256([]byte("bot|" + bot.Key + "|" + app.Key))
	return "ou_" + hex.EncodeToString(sum[:16])
}

// receiveEvent is im.message.receive_v1's event.
type receiveEvent struct {
	Sender struct {
		SenderID   eventUserID `json:"sender_id"`
		SenderType string      `json:"sender_type"`
		TenantKey  string      `json:"tenant_key"`
	} `json:"sender"`
	Message struct {
		MessageID   string         `json:"message_id"`
		RootID      string         `json:"root_id,omitempty"`
		ParentID    string         `json:"parent_id,omitempty"`
		ThreadID    string         `json:"thread_id,omitempty"`
		CreateTime  string         `json:"create_time"`
		UpdateTime  string         `json:"update_time"`
		ChatID      string         `json:"chat_id"`
		ChatType    string         `json:"chat_type"`
		MessageType string         `json:"message_type"`
		Content     string         `json:"content"`
		Mentions    []eventMention `json:"mentions,omitempty"`
	} `json:"message"`
}

type eventMention struct {
	Key       string      `json:"key"`
	ID        eventUserID `json:"id"`
	Name      string      `json:"name"`
	TenantKey string      `json:"tenant_key"`
}

// renderReceive renders im.message.receive_v1 for app.
// recalledEvent is im.message.recalled_v1: the sender recalled a message
// (qun lets only senders recall, so recall_type is message_owner).
type recalledEvent struct {
	MessageID  string `json:"message_id"`
	ChatID     string `json:"chat_id"`
	RecallTime string `json:"recall_time"`
	RecallType string `json:"recall_type"`
}

func renderReceive(tx qun.Tx, d qun.EventDraft, ids func(qun.User) eventUserID) (receiveEvent, error) {
	var ev receiveEvent
	m := d.Change.Message
	u, err := tx.User(m.SenderUser)
	if err != nil {
		return ev, err
	}
	t, err := tx.Tenant(u.TenantID)
	if err != nil {
		return ev, err
	}
	ev.Sender.SenderID, ev.Sender.SenderType, ev.Sender.TenantKey = ids(u), "user", t.Key
	msg := &ev.Message
	msg.MessageID, msg.RootID, msg.ParentID, msg.ThreadID = m.MessageID, m.RootID, m.ParentID, m.ThreadID
	msg.CreateTime, msg.UpdateTime = strconv.FormatInt(m.CreatedAt.UnixMilli(), 10), strconv.FormatInt(m.UpdatedAt.UnixMilli(), 10)
	msg.ChatID, msg.ChatType, msg.MessageType, msg.Content = m.ChatID, "group", m.Type, m.Content
	if d.Change.Chat.Class == qun.P2P {
		msg.ChatType = "p2p"
	}
	for _, x := range m.Mentions {
		em := eventMention{Key: x.Key, Name: x.Name, TenantKey: d.Tenant.Key}
		switch {
		case x.User != 0:
			mu, err := tx.User(x.User)
			if err != nil {
				return ev, err
			}
			em.ID = ids(mu)
		case x.App != 0:
			b, err := tx.App(x.App)
			if err != nil {
				return ev, err
			}
			em.ID = eventUserID{OpenID: botOpenID(b, d.App)}
		}
		msg.Mentions = append(msg.Mentions, em)
	}
	return ev, nil
}
