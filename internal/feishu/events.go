package feishu

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/qunhq/qun/internal/events"
	"github.com/qunhq/qun/internal/qun"
)

// Events in Feishu's shape: schema 2.0 envelopes, pushed to a request URL
// (encrypted and signed when the app has an encrypt key) or over the long
// connection (longconn.go).

// envelope is a schema 2.0 event.
type envelope struct {
	Schema string      `json:"schema"`
	Header eventHeader `json:"header"`
	Event  any         `json:"event"`
}

type eventHeader struct {
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	CreateTime string `json:"create_time"`
	Token      string `json:"token"`
	AppID      string `json:"app_id"`
	TenantKey  string `json:"tenant_key"`
}

type eventUserID struct {
	UnionID string `json:"union_id"`
	UserID  string `json:"user_id"`
	OpenID  string `json:"open_id"`
}

type eventUser struct {
	Name      string      `json:"name"`
	TenantKey string      `json:"tenant_key"`
	UserID    eventUserID `json:"user_id"`
}

// chatEvent holds the fields every chat event has.
type chatEvent struct {
	ChatID            string      `json:"chat_id"`
	OperatorID        eventUserID `json:"operator_id"`
	External          bool        `json:"external"`
	OperatorTenantKey string      `json:"operator_tenant_key"`
}

type memberEvent struct {
	chatEvent
	Users     []eventUser `json:"users,omitempty"`
	Name      string      `json:"name"`
	I18nNames i18nNames   `json:"i18n_names"`
}

type updatedEvent struct {
	chatEvent
	AfterChange  chatChange `json:"after_change"`
	BeforeChange chatChange `json:"before_change"`
}

// chatChange is what im.chat.updated_v1 tells: the fields that changed,
// before and after.
type chatChange struct {
	Avatar                 *string      `json:"avatar,omitempty"`
	Name                   *string      `json:"name,omitempty"`
	Description            *string      `json:"description,omitempty"`
	I18nNames              *i18nNames   `json:"i18n_names,omitempty"`
	AddMemberPermission    *string      `json:"add_member_permission,omitempty"`
	ShareCardPermission    *string      `json:"share_card_permission,omitempty"`
	AtAllPermission        *string      `json:"at_all_permission,omitempty"`
	EditPermission         *string      `json:"edit_permission,omitempty"`
	MembershipApproval     *string      `json:"membership_approval,omitempty"`
	JoinMessageVisibility  *string      `json:"join_message_visibility,omitempty"`
	LeaveMessageVisibility *string      `json:"leave_message_visibility,omitempty"`
	ModerationPermission   *string      `json:"moderation_permission,omitempty"`
	OwnerID                *eventUserID `json:"owner_id,omitempty"`
}

// eventFormat renders the core's events in Feishu's shape.
type eventFormat struct{ h *Handler }

// RenderEvent implements qun.EventFormat.
func (f eventFormat) RenderEvent(tx qun.Tx, d qun.EventDraft) ([]byte, error) {
	ch, app := d.Change, d.App
	ids := func(u qun.User) eventUserID {
		return eventUserID{UnionID: userID(app, u, qun.UnionID), UserID: u.UserID, OpenID: userID(app, u, qun.OpenID)}
	}
	tenants := map[int64]string{d.Tenant.ID: d.Tenant.Key}
	tenantKey := func(id int64) (string, error) {
		if k, ok := tenants[id]; ok {
			return k, nil
		}
		t, err := tx.Tenant(id)
		tenants[id] = t.Key
		return t.Key, err
	}
	c := ch.Chat
	base := chatEvent{ChatID: c.ChatID, External: c.External}
	switch {
	case ch.OperatorUser != 0:
		u, err := tx.User(ch.OperatorUser)
		if err != nil {
			return nil, err
		}
		base.OperatorID = ids(u)
		if base.OperatorTenantKey, err = tenantKey(u.TenantID); err != nil {
			return nil, err
		}
	default:
		// An app (or the system) made the change: Feishu names no user.
		base.OperatorTenantKey = d.Tenant.Key
	}
	var body any
	switch d.Type {
	case qun.FeishuMessage:
		ev, err := renderReceive(tx, d, ids)
		if err != nil {
			return nil, err
		}
		body = ev
	case qun.FeishuRecalled:
		m := ch.Message
		body = recalledEvent{MessageID: m.MessageID, ChatID: m.ChatID, RecallTime: strconv.FormatInt(ch.At.UnixMilli(), 10), RecallType: "message_owner"}
	case qun.FeishuChatUpdated:
		before, after, err := f.changes(tx, app, ch.Before, c, ids)
		if err != nil {
			return nil, err
		}
		body = updatedEvent{chatEvent: base, BeforeChange: before, AfterChange: after}
	default:
		ev := memberEvent{chatEvent: base, Name: c.Name, I18nNames: i18nView(c.I18nNames)}
		if len(ch.Users) > 0 {
			us, err := qun.UsersOf(tx, ch.Users)
			if err != nil {
				return nil, err
			}
			for _, u := range us {
				k, err := tenantKey(u.TenantID)
				if err != nil {
					return nil, err
				}
				ev.Users = append(ev.Users, eventUser{Name: u.Name, TenantKey: k, UserID: ids(u)})
			}
		}
		body = ev
	}
	token := ""
	if app.Events != nil {
		token = app.Events.Token
	}
	return json.Marshal(envelope{Schema: "2.0", Header: eventHeader{
		EventID: d.EventID, EventType: d.Type, CreateTime: strconv.FormatInt(ch.At.UnixMilli(), 10),
		Token: token, AppID: app.Key, TenantKey: d.Tenant.Key,
	}, Event: body})
}

// changes returns the fields of a chat that an update changed, before and
// after.
func (f eventFormat) changes(tx qun.Tx, app qun.App, old, c qun.Chat, ids func(qun.User) eventUserID) (before, after chatChange, err error) {
	str := func(a, b string) (*string, *string) {
		if a == b {
			return nil, nil
		}
		return &a, &b
	}
	before.Name, after.Name = str(old.Name, c.Name)
	before.Description, after.Description = str(old.Description, c.Description)
	if old.Avatar != c.Avatar {
		a, b := f.h.avatarURL(old.Avatar), f.h.avatarURL(c.Avatar)
		before.Avatar, after.Avatar = &a, &b
	}
	if old.I18nNames != c.I18nNames {
		a, b := i18nView(old.I18nNames), i18nView(c.I18nNames)
		before.I18nNames, after.I18nNames = &a, &b
	}
	o, n := old.Settings, c.Settings
	setting := str
	before.AddMemberPermission, after.AddMemberPermission = setting(wire(ownerOrAll, o.WhoCanAddMembers), wire(ownerOrAll, n.WhoCanAddMembers))
	before.ShareCardPermission, after.ShareCardPermission = setting(wire(shares, o.ShareAllowed), wire(shares, n.ShareAllowed))
	before.AtAllPermission, after.AtAllPermission = setting(wire(ownerOrAll, o.WhoCanMentionAll), wire(ownerOrAll, n.WhoCanMentionAll))
	before.EditPermission, after.EditPermission = setting(wire(ownerOrAll, o.WhoCanEdit), wire(ownerOrAll, n.WhoCanEdit))
	before.MembershipApproval, after.MembershipApproval = setting(wire(approvals, o.ApprovalRequired), wire(approvals, n.ApprovalRequired))
	before.JoinMessageVisibility, after.JoinMessageVisibility = setting(wire(visibilities, o.JoinNotice), wire(visibilities, n.JoinNotice))
	before.LeaveMessageVisibility, after.LeaveMessageVisibility = setting(wire(visibilities, o.LeaveNotice), wire(visibilities, n.LeaveNotice))
	before.ModerationPermission, after.ModerationPermission = setting(wire(moderations, o.WhoCanSpeak), wire(moderations, n.WhoCanSpeak))
	if old.OwnerUser != c.OwnerUser && c.OwnerUser != 0 {
		owner := func(id int64) (*eventUserID, error) {
			if id == 0 {
				return &eventUserID{}, nil
			}
			u, err := tx.User(id)
			v := ids(u)
			return &v, err
		}
		if before.OwnerID, err = owner(old.OwnerUser); err != nil {
			return
		}
		after.OwnerID, err = owner(c.OwnerUser)
	}
	return
}

// encryptEvent is Feishu's encryption of a pushed body: AES-256-CBC under
// SHA-256(key), a random IV before the ciphertext, PKCS#7, base64.
func encryptEvent(key string, plain []byte) (string, error) {
	k := sha256.Sum256([]byte(key))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return "", err
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	msg := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, aes.BlockSize+len(msg))
	if _, err := rand.Read(out[:aes.BlockSize]); err != nil {
		return "", err
	}
	cipher.NewCBCEncrypter(block, out[:aes.BlockSize]).CryptBlocks(out[aes.BlockSize:], msg)
	return base64.StdEncoding.EncodeToString(out), nil
}

// signature is X-Lark-Signature: hex(SHA-256(timestamp + nonce + key + body)).
func signature(timestamp, nonce, key string, body []byte) string {
	h := sha256.New()
	io.WriteString(h, timestamp+nonce+key)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// maxAnswer bounds what is read of an answer.
const maxAnswer = 4 << 10

// webhookBody wraps a plaintext body as the app's subscription wants it:
// as is, or {"encrypt": …} when it has an encrypt key.
func webhookBody(sub qun.Subscription, plain []byte) ([]byte, error) {
	if sub.Key == "" {
		return plain, nil
	}
	enc, err := encryptEvent(sub.Key, plain)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"encrypt": enc})
}

// post sends one webhook request and returns the status and the answer.
func (h *Handler) post(ctx context.Context, sub qun.Subscription, plain []byte) (int, []byte, error) {
	body, err := webhookBody(sub, plain)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	ts := strconv.FormatInt(h.svc.Now().Unix(), 10)
	nonce := qun.NewEventID()[:16]
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Lark-Event-Push/qun")
	req.Header.Set("X-Lark-Request-Timestamp", ts)
	req.Header.Set("X-Lark-Request-Nonce", nonce)
	req.Header.Set("X-Lark-Signature", signature(ts, nonce, sub.Key, body))
	resp, err := events.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, answer, err
}

// Push implements events.Pusher: one POST to the request URL; an answer
// other than 200 in time is a failure, retried.
func (h *Handler) Push(ctx context.Context, app qun.App, e qun.Event) events.Result {
	r := events.Result{Transport: "webhook", Target: app.Events.URL}
	status, answer, err := h.post(ctx, *app.Events, []byte(e.Body))
	return outcome(r, status, answer, err, ctx)
}

// outcome makes the result of an HTTP attempt.
func outcome(r events.Result, status int, answer []byte, err error, ctx context.Context) events.Result {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.Status, r.Answer = "timeout", "no answer in time"
	case err != nil:
		r.Status, r.Answer = "error", err.Error()
	default:
		r.OK, r.Status, r.Answer = status == http.StatusOK, strconv.Itoa(status), string(answer)
	}
	return r
}

// VerifyURL sends the url_verification challenge to a subscription's
// request URL, as Feishu does when the URL is saved, and fails unless the
// answer echoes it.
func (h *Handler) VerifyURL(ctx context.Context, app qun.App) error {
	sub := *app.Events
	challenge := qun.NewEventID()
	plain, _ := json.Marshal(map[string]string{"challenge": challenge, "token": sub.Token, "type": "url_verification"})
	ctx, cancel := context.WithTimeout(ctx, events.Timeouts[qun.Feishu])
	defer cancel()
	status, answer, err := h.post(ctx, sub, plain)
	if err != nil {
		return fmt.Errorf("the request URL did not answer the challenge: %w", err)
	}
	var got struct {
		Challenge string `json:"challenge"`
	}
	if status != http.StatusOK || json.Unmarshal(answer, &got) != nil || got.Challenge != challenge {
		return fmt.Errorf("the request URL answered the challenge with %d %.100q, not {\"challenge\":%q}", status, answer, challenge)
	}
	return nil
}
