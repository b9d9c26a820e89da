package dingtalk

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qunhq/qun/internal/events"
	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/ratelimit"
)

// The robot's side of a conversation. A user's message that @mentions the
// app's robot is delivered on the Stream CALLBACK topic
// /v1.0/im/bot/messages/get (over HTTP: posted in plain JSON to the
// robot's message URL, signed with the app secret), with a
// sessionWebhook: posting a message to it, until
// sessionWebhookExpiredTime, replies in the chat.

// sessionPath is where sessionWebhooks point, as on oapi.dingtalk.com.
const sessionPath = "/robot/sendBySession"

type atUser struct {
	DingtalkID string `json:"dingtalkId"`
	StaffID    string `json:"staffId,omitempty"`
}

// botMessage is the payload of /v1.0/im/bot/messages/get (the Stream
// SDK's chatbot.BotCallbackDataModel).
type botMessage struct {
	ConversationID            string   `json:"conversationId"`
	AtUsers                   []atUser `json:"atUsers"`
	ChatbotCorpID             string   `json:"chatbotCorpId"`
	ChatbotUserID             string   `json:"chatbotUserId"`
	MsgID                     string   `json:"msgId"`
	SenderNick                string   `json:"senderNick"`
	IsAdmin                   bool     `json:"isAdmin"`
	SenderStaffID             string   `json:"senderStaffId"`
	SessionWebhookExpiredTime int64    `json:"sessionWebhookExpiredTime"`
	CreateAt                  int64    `json:"createAt"`
	SenderCorpID              string   `json:"senderCorpId"`
	ConversationType          string   `json:"conversationType"`
	SenderID                  string   `json:"senderId"`
	ConversationTitle         string   `json:"conversationTitle"`
	IsInAtList                bool     `json:"isInAtList"`
	SessionWebhook            string   `json:"sessionWebhook"`
	Text                      struct {
		Content string `json:"content"`
	} `json:"text"`
	Msgtype   string `json:"msgtype"`
	RobotCode string `json:"robotCode"`
}

// dingtalkID is the opaque "$:LWCP_v1:$…" identifier DingTalk gives a
// user or a robot inside a corporation, derived here from what it names.
func dingtalkID(corp, kind, id string) string {
	sum := sha256.Sum256([]byte(corp + "|" + kind + "|" + id))
	return "$:LWCP_v1:$" + base64.StdEncoding.EncodeToString(sum[:18])
}

// text is a message's words: the content document's "content" (DingTalk's
// text) or "text" (Feishu's).
func text(content string) string {
	var doc struct {
		Content *string `json:"content"`
		Text    *string `json:"text"`
	}
	json.Unmarshal([]byte(content), &doc)
	switch {
	case doc.Content != nil:
		return *doc.Content
	case doc.Text != nil:
		return *doc.Text
	}
	return ""
}

// renderBotMessage renders a user's message for the robot it mentions.
// The sessionWebhook is a path here; the transport makes it a URL of the
// host the robot reaches qun on.
func renderBotMessage(tx qun.Tx, d qun.EventDraft) ([]byte, error) {
	m, c, app := d.Change.Message, d.Change.Chat, d.App
	corp := d.Tenant.Key
	sender, err := tx.User(m.SenderUser)
	if err != nil {
		return nil, err
	}
	member, err := tx.Member(c.ID, sender.ID, 0)
	if err != nil && qun.ErrorCode(err) != qun.ENotFound {
		return nil, err
	}
	exp := m.CreatedAt.Add(qun.SessionTTL)
	ev := botMessage{
		ConversationID: c.ConversationID, ChatbotCorpID: corp, ChatbotUserID: dingtalkID(corp, "robot", app.Key),
		MsgID: m.MessageID, SenderNick: sender.Name, IsAdmin: member.Role == qun.RoleOwner || member.Role == qun.RoleManager,
		SenderStaffID: sender.UserID, SessionWebhookExpiredTime: exp.UnixMilli(), CreateAt: m.CreatedAt.UnixMilli(),
		SenderCorpID: corp, ConversationType: "2", SenderID: dingtalkID(corp, "user", sender.UserID),
		ConversationTitle: c.Name, IsInAtList: true, Msgtype: "text", RobotCode: app.Key,
		SessionWebhook: sessionPath + "?session=" + url.QueryEscape(qun.NewSession(app, c.ChatID, exp)),
	}
	ev.Text.Content = text(m.Content)
	for _, x := range m.Mentions {
		switch {
		case x.App != 0:
			a, err := tx.App(x.App)
			if err != nil {
				return nil, err
			}
			ev.AtUsers = append(ev.AtUsers, atUser{DingtalkID: dingtalkID(corp, "robot", a.Key)})
		case x.User != 0:
			u, err := tx.User(x.User)
			if err != nil {
				return nil, err
			}
			ev.AtUsers = append(ev.AtUsers, atUser{DingtalkID: dingtalkID(corp, "user", u.UserID), StaffID: u.UserID})
		}
	}
	return json.Marshal(ev)
}

// withSessionHost makes a rendered message's sessionWebhook a URL on base
// (scheme://host).
func withSessionHost(body, base string) string {
	return strings.Replace(body, `"sessionWebhook":"`+sessionPath, `"sessionWebhook":"`+base+sessionPath, 1)
}

// pushBotMessage posts a robot's message to its HTTP message URL: plain
// JSON with headers timestamp and sign = base64(HmacSHA256(appSecret,
// timestamp + "\n" + appSecret)); any 200 is delivery.
func (h *Handler) pushBotMessage(ctx context.Context, app qun.App, e qun.Event) events.Result {
	r := events.Result{Transport: "robot_http", Target: app.Events.URL}
	body := withSessionHost(e.Body, h.publicURL())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.Events.URL, strings.NewReader(body))
	if err != nil {
		r.Status, r.Answer = "error", err.Error()
		return r
	}
	ts := strconv.FormatInt(h.svc.Now().UnixMilli(), 10)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("timestamp", ts)
	req.Header.Set("sign", robotSign(ts, app.Secret))
	resp, err := events.Client.Do(req)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.Status, r.Answer = "timeout", "no answer in time"
		return r
	case err != nil:
		r.Status, r.Answer = "error", err.Error()
		return r
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	r.Status, r.Answer, r.OK = strconv.Itoa(resp.StatusCode), string(answer), resp.StatusCode == http.StatusOK
	return r
}

// robotSign signs a robot HTTP callback.
func robotSign(timestamp, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	io.WriteString(m, timestamp+"\n"+secret)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// publicURL is where robots reach qun for a reply.
func (h *Handler) publicURL() string {
	if h.cfg.PublicURL != nil {
		return strings.TrimSuffix(h.cfg.PublicURL(), "/")
	}
	return ""
}

// Answers of sessionWebhook: HTTP 200 and an errcode, as DingTalk's
// webhook robots answer.
var (
	sessionOK       = legacyError{0, "ok"}
	sessionNotFound = legacyError{300001, "session 不存在"}
	sessionBadJSON  = legacyError{40035, "缺少参数 json"}
	sessionBadType  = legacyError{40035, "不支持的消息类型"}
	sessionTooLong  = legacyError{460101, "message too long, exceed 20000 bytes"}
	sessionTooFast  = legacyError{130101, "send too fast, exceed 20 times per minute"}
	sessionNotIn    = legacyError{400013, "群已被解散或机器人不在群中"}
	sessionMuted    = legacyError{400013, "群已禁言"}
	sessionSystem   = legacySystem
)

// maxSessionBody is a reply's limit (DingTalk: 20,000 bytes).
const maxSessionBody = 20000

// sessionRate is a robot's limit per chat: 20 messages a minute.
var sessionRate = []ratelimit.Rule{{Limit: 20, Window: time.Minute}}

// sessionTypes are the message types a reply may have, with the members
// each needs.
var sessionTypes = map[string][]string{
	"text": {"content"}, "markdown": {"title", "text"}, "link": {"title", "text", "messageUrl"},
	"actionCard": {"title", "text"}, "feedCard": {"links"},
}

type sessionBody struct {
	Msgtype string `json:"msgtype"`
	At      *struct {
		AtUserIDs []string `json:"atUserIds"`
		AtMobiles []string `json:"atMobiles"`
		IsAtAll   bool     `json:"isAtAll"`
	} `json:"at"`
}

// sessionMessage reads a reply's body: the message, the users it @s (by
// userid), or the errcode refusing it (sessionOK when none).
func sessionMessage(raw []byte) (qun.NewMessage, []string, legacyError, error) {
	if len(raw) > maxSessionBody {
		return qun.NewMessage{}, nil, sessionTooLong, nil
	}
	var b sessionBody
	var doc map[string]json.RawMessage
	if err := httpx.Unmarshal(raw, &b); err != nil {
		return qun.NewMessage{}, nil, sessionBadJSON, err
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return qun.NewMessage{}, nil, sessionBadJSON, err
	}
	need, ok := sessionTypes[b.Msgtype]
	var part map[string]json.RawMessage
	if !ok || json.Unmarshal(doc[b.Msgtype], &part) != nil || part == nil {
		return qun.NewMessage{}, nil, sessionBadType, nil
	}
	for _, k := range need {
		if v, ok := part[k]; !ok || bytes.Equal(v, []byte(`""`)) || bytes.Equal(v, []byte("null")) {
			return qun.NewMessage{}, nil, sessionBadJSON, fmt.Errorf("%s.%s is missing", b.Msgtype, k)
		}
	}
	msg := qun.NewMessage{Type: b.Msgtype, Content: string(doc[b.Msgtype])}
	var at []string
	if b.At != nil {
		if b.At.IsAtAll {
			msg.Mentions = append(msg.Mentions, qun.Mention{Key: "@all", All: true, Name: "所有人"})
		}
		at = b.At.AtUserIDs
	}
	return msg, at, sessionOK, nil
}

// sendBySession posts a reply through a sessionWebhook.
func (h *Handler) sendBySession(w http.ResponseWriter, r *http.Request) {
	httpx.Annotate(r, "dingtalk", "POST "+sessionPath, "")
	answer := func(e legacyError, cause error) {
		httpx.RecordOf(r.Context()).Set(func(rec *httpx.Record) { rec.Code, rec.Err = strconv.Itoa(e.code), cause })
		if e.code < 0 {
			h.log.Error("dingtalk: sendBySession", "err", cause)
		}
		httpx.WriteJSON(w, http.StatusOK, contentType, map[string]any{"errcode": e.code, "errmsg": e.msg})
	}
	actor, chatID, err := h.svc.OpenSession(r.Context(), r.URL.Query().Get("session"))
	if err != nil {
		if qun.ErrorCode(err) == qun.EUnavailable {
			answer(sessionNotFound, err)
		} else {
			answer(sessionSystem, err)
		}
		return
	}
	raw, err := httpx.ReadBody(w, r, h.cfg.MaxBody)
	if err != nil {
		answer(sessionBadJSON, err)
		return
	}
	msg, atUsers, bad, cause := sessionMessage(raw)
	if bad != sessionOK {
		answer(bad, cause)
		return
	}
	if len(h.cfg.RateLimits) > 0 {
		d, err := h.cfg.Limiter.Allow(r.Context(), "dingtalk|sendBySession|"+actor.App.Key+"|"+chatID, sessionRate)
		if err != nil {
			answer(sessionSystem, err)
			return
		}
		if !d.Allowed {
			answer(sessionTooFast, nil)
			return
		}
	}
	if len(atUsers) > 0 {
		err := h.svc.Store().View(r.Context(), func(tx qun.Tx) error {
			for _, id := range atUsers {
				u, err := tx.UserByUserID(actor.Tenant.ID, id)
				if qun.ErrorCode(err) == qun.ENotFound {
					continue // DingTalk drops an @ of nobody
				} else if err != nil {
					return err
				}
				msg.Mentions = append(msg.Mentions, qun.Mention{Key: "@" + u.UserID, User: u.ID, Name: u.Name})
			}
			return nil
		})
		if err != nil {
			answer(sessionSystem, err)
			return
		}
	}
	if _, err := h.svc.SendMessage(r.Context(), actor, chatID, msg); err != nil {
		switch qun.ErrorReason(err) {
		case qun.ReasonChatDissolved, qun.ReasonNotInChat, qun.ReasonChatNotFound:
			answer(sessionNotIn, err)
		case qun.ReasonMuted:
			answer(sessionMuted, err)
		default:
			answer(sessionSystem, err)
		}
		return
	}
	answer(sessionOK, nil)
}
