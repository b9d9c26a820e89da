package wecom

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/qunhq/qun/internal/events"
	"github.com/qunhq/qun/internal/qun"
)

// Callbacks in WeCom's shape. WeCom tells apps nothing of what they do
// through the API ("通过API进行的操作不会产生回调"); what users do in the
// client to a group chat arrives as change_external_chat, an XML message
// encrypted into <xml><ToUserName/><AgentID/><Encrypt/></xml> and posted
// to the app's callback URL with msg_signature, timestamp and nonce.

type cdata struct {
	Value string `xml:",cdata"`
}

// chatChange is change_external_chat.
type chatChange struct {
	XMLName       xml.Name `xml:"xml"`
	ToUserName    cdata    `xml:"ToUserName"`
	FromUserName  cdata    `xml:"FromUserName"`
	CreateTime    int64    `xml:"CreateTime"`
	MsgType       cdata    `xml:"MsgType"`
	Event         cdata    `xml:"Event"`
	ChatID        cdata    `xml:"ChatId"`
	ChangeType    cdata    `xml:"ChangeType"`
	UpdateDetail  *cdata   `xml:"UpdateDetail,omitempty"`
	JoinScene     *int     `xml:"JoinScene,omitempty"`
	QuitScene     *int     `xml:"QuitScene,omitempty"`
	MemChangeCnt  *int     `xml:"MemChangeCnt,omitempty"`
	MemChangeList *members `xml:"MemChangeList,omitempty"`
}

type members struct {
	Items []cdata `xml:"Item"`
}

// Join and quit scenes.
const (
	joinInvited = 0 // invited by a member
	joinQRCode  = 3 // joined by the group's QR code or link
	quitLeft    = 0
	quitRemoved = 1
)

type eventFormat struct{}

// RenderEvent implements qun.EventFormat.
func (eventFormat) RenderEvent(tx qun.Tx, d qun.EventDraft) ([]byte, error) {
	ch := d.Change
	m := chatChange{
		ToUserName: cdata{d.Tenant.Key}, FromUserName: cdata{"sys"}, CreateTime: ch.At.Unix(),
		MsgType: cdata{"event"}, Event: cdata{d.Type}, ChatID: cdata{ch.Chat.ChatID}, ChangeType: cdata{"update"},
	}
	detail := func(s string) { m.UpdateDetail = &cdata{s} }
	num := func(n int) *int { return &n }
	switch ch.Kind {
	case qun.ChatDisbanded:
		m.ChangeType = cdata{"dismiss"}
	case qun.UsersAdded, qun.UsersRemoved, qun.UsersLeft:
		us, err := qun.UsersOf(tx, ch.Users)
		if err != nil {
			return nil, err
		}
		m.MemChangeCnt, m.MemChangeList = num(len(us)), &members{}
		for _, u := range us {
			m.MemChangeList.Items = append(m.MemChangeList.Items, cdata{u.UserID})
		}
		switch ch.Kind {
		case qun.UsersAdded:
			detail("add_member")
			scene := joinInvited
			if len(ch.Users) == 1 && ch.Users[0] == ch.OperatorUser {
				scene = joinQRCode
			}
			m.JoinScene = num(scene)
		case qun.UsersRemoved:
			detail("del_member")
			m.QuitScene = num(quitRemoved)
		default:
			detail("del_member")
			m.QuitScene = num(quitLeft)
		}
	case qun.ChatUpdated:
		if ch.Before.Name != ch.Chat.Name {
			detail("change_name")
		} else {
			detail("change_owner")
		}
	}
	return xml.Marshal(m)
}

// callbackEnvelope is what is posted: the encrypted message.
type callbackEnvelope struct {
	XMLName    xml.Name `xml:"xml"`
	ToUserName cdata    `xml:"ToUserName"`
	AgentID    cdata    `xml:"AgentID"`
	Encrypt    cdata    `xml:"Encrypt"`
}

// signedURL adds msg_signature, timestamp and nonce (and extra) to the
// callback URL.
func (h *Handler) signedURL(sub qun.Subscription, sealed string, extra url.Values) (string, error) {
	u, err := url.Parse(sub.URL)
	if err != nil {
		return "", err
	}
	ts := strconv.FormatInt(h.svc.Now().Unix(), 10)
	nonce := qun.NewEventID()[:10]
	q := u.Query()
	for k, v := range extra {
		q[k] = v
	}
	q.Set("msg_signature", events.Signature(sub.Token, ts, nonce, sealed))
	q.Set("timestamp", ts)
	q.Set("nonce", nonce)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Push implements events.Pusher: the encrypted callback; 200 is success.
func (h *Handler) Push(ctx context.Context, app qun.App, e qun.Event) events.Result {
	r := events.Result{Transport: "callback", Target: app.Events.URL}
	status, answer, err := h.push(ctx, app, e)
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

func (h *Handler) push(ctx context.Context, app qun.App, e qun.Event) (int, []byte, error) {
	sub := *app.Events
	sealed, err := events.Seal(sub.Key, e.Tenant, []byte(e.Body))
	if err != nil {
		return 0, nil, err
	}
	body, _ := xml.Marshal(callbackEnvelope{ToUserName: cdata{e.Tenant}, AgentID: cdata{app.Key}, Encrypt: cdata{sealed}})
	target, err := h.signedURL(sub, sealed, nil)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := events.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, answer, err
}

// VerifyURL checks a callback URL as WeCom does when it is saved: a GET
// with an encrypted echostr, answered with its plaintext.
func (h *Handler) VerifyURL(ctx context.Context, app qun.App) error {
	sub := *app.Events
	t, err := h.tenantOf(ctx, app)
	if err != nil {
		return err
	}
	echo := qun.NewEventID()
	sealed, err := events.Seal(sub.Key, t, []byte(echo))
	if err != nil {
		return err
	}
	target, err := h.signedURL(sub, sealed, url.Values{"echostr": {sealed}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, events.Timeouts[qun.WeCom])
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := events.Client.Do(req)
	if err != nil {
		return fmt.Errorf("the callback URL did not answer the echostr check: %w", err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK || string(bytes.TrimSpace(got)) != echo {
		return fmt.Errorf("the callback URL answered the echostr check with %d %.100q, not the decrypted echostr", resp.StatusCode, got)
	}
	return nil
}

// tenantOf returns the corpid of an app's corporation.
func (h *Handler) tenantOf(ctx context.Context, app qun.App) (string, error) {
	var key string
	err := h.svc.Store().View(ctx, func(tx qun.Tx) error {
		t, err := tx.Tenant(app.TenantID)
		key = t.Key
		return err
	})
	return key, err
}
