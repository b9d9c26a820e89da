package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qunhq/qun/internal/events"
	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// Events in DingTalk's shape. A group event's data is
// {timeStamp, chatId, corpId, operator, operatorUnionId,
// openConversationId, userId[], unionId[], eventType} (plus title or
// owner where the event is about them); Stream carries it as an EVENT
// frame whose headers hold eventId, eventBornTime, eventCorpId,
// eventType and eventUnifiedAppId, and the HTTP callback flattens those
// into the encrypted body.

type groupEvent struct {
	TimeStamp          string   `json:"timeStamp"`
	ChatID             string   `json:"chatId"`
	CorpID             string   `json:"corpId"`
	Operator           string   `json:"operator"`
	OperatorUnionID    string   `json:"operatorUnionId"`
	OpenConversationID string   `json:"openConversationId"`
	UserID             []string `json:"userId,omitempty"`
	UnionID            []string `json:"unionId,omitempty"`
	Title              string   `json:"title,omitempty"`
	Owner              string   `json:"owner,omitempty"`
	OwnerUnionID       string   `json:"ownerUnionId,omitempty"`
	EventType          string   `json:"eventType"`
}

type eventFormat struct{}

// RenderEvent implements qun.EventFormat.
func (eventFormat) RenderEvent(tx qun.Tx, d qun.EventDraft) ([]byte, error) {
	if d.Type == qun.DingTalkBotMessage {
		return renderBotMessage(tx, d)
	}
	ch, app := d.Change, d.App
	c := ch.Chat
	ev := groupEvent{
		TimeStamp: strconv.FormatInt(ch.At.UnixMilli(), 10), ChatID: c.ChatID, CorpID: d.Tenant.Key,
		OpenConversationID: c.ConversationID, EventType: d.Type,
	}
	ids := func(id int64) (string, string, error) {
		u, err := tx.User(id)
		return u.UserID, u.Alias(qun.UnionID, app.Developer), err
	}
	var err error
	if ch.OperatorUser != 0 {
		if ev.Operator, ev.OperatorUnionID, err = ids(ch.OperatorUser); err != nil {
			return nil, err
		}
	}
	if len(ch.Users) > 0 {
		us, err := qun.UsersOf(tx, ch.Users)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			ev.UserID = append(ev.UserID, u.UserID)
			ev.UnionID = append(ev.UnionID, u.Alias(qun.UnionID, app.Developer))
		}
	}
	switch d.Type {
	case qun.DingTalkTitle:
		ev.Title = c.Name
	case qun.DingTalkOwner:
		if ev.Owner, ev.OwnerUnionID, err = ids(c.OwnerUser); err != nil {
			return nil, err
		}
	}
	return json.Marshal(ev)
}

// The Stream gateway: POST /v1.0/gateway/connections/open trades an app's
// credentials and subscriptions for an endpoint and a ticket; the client
// dials endpoint?ticket=… and receives JSON frames.

type openRequest struct {
	ClientID      string `json:"clientId"`
	ClientSecret  string `json:"clientSecret"`
	Subscriptions []struct {
		Type  string `json:"type"`
		Topic string `json:"topic"`
	} `json:"subscriptions"`
	UA      string            `json:"ua"`
	LocalIP string            `json:"localIp"`
	Extras  map[string]string `json:"extras"`
}

// streamTicketTTL is how long a ticket can be dialled.
const streamTicketTTL = 5 * time.Minute

func (h *Handler) openConnection(w http.ResponseWriter, r *http.Request) {
	c := h.newCall(w, r, "POST /v1.0/gateway/connections/open")
	var req openRequest
	body, err := httpx.ReadBody(w, r, h.cfg.MaxBody)
	if err == nil {
		err = httpx.Unmarshal(body, &req)
	}
	if err != nil || req.ClientID == "" || req.ClientSecret == "" {
		h.writeError(c, fail(errParameter))
		return
	}
	if h.cfg.Hub == nil {
		h.writeError(c, fail(errSystem))
		return
	}
	tok, err := h.svc.IssueToken(r.Context(), qun.TokenRequest{Kind: qun.ConnTicket, Platform: qun.DingTalk, AppKey: req.ClientID, Secret: req.ClientSecret, TTL: streamTicketTTL})
	if qun.ErrorCode(err) == qun.EInvalid {
		h.writeError(c, fail(errBadCredentials))
		return
	} else if err != nil {
		h.writeError(c, &failure{apiError: errSystem, cause: err})
		return
	}
	var topics []string
	for _, s := range req.Subscriptions {
		switch s.Type {
		case "EVENT":
			topics = append(topics, s.Topic)
		case "CALLBACK":
			topics = append(topics, callbackTopic(s.Topic))
		}
	}
	h.topics.Store(tok.AppKey, topics)
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: "/v1.0/gateway/connect"}
	httpx.WriteJSON(w, http.StatusOK, contentType, map[string]string{"endpoint": u.String(), "ticket": tok.Value})
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (h *Handler) streamConnect(w http.ResponseWriter, r *http.Request) {
	httpx.Annotate(r, "dingtalk", "GET /v1.0/gateway/connect", "")
	ticket := r.URL.Query().Get("ticket")
	actor, err := h.svc.Authenticate(r.Context(), ticket, qun.ConnTicket)
	if err != nil || h.cfg.Hub == nil {
		c := h.newCall(w, r, "GET /v1.0/gateway/connect")
		h.writeError(c, fail(errInvalidToken))
		return
	}
	// The subscriptions are those of the app's last open on this node;
	// dialled on another node, the connection takes every event and the
	// robot's messages.
	topics := []string{"*", callbackTopic(qun.DingTalkBotMessage)}
	if v, ok := h.topics.Load(actor.App.Key); ok {
		topics = v.([]string)
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.NetConn().SetDeadline(time.Time{})
	ws.SetReadLimit(h.cfg.MaxBody)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	sc := &streamConn{ws: ws, h: h, app: actor.App, base: scheme + "://" + r.Host, id: qun.NewEventID(), topics: topics, acks: make(map[string]chan ackFrame), closed: make(chan struct{}), turn: make(chan struct{}, 1)}
	detach := h.cfg.Hub.Attach(actor.App.ID, sc)
	go sc.serve(detach)
}

// callbackTopic keeps a CALLBACK subscription apart from EVENT topics.
func callbackTopic(topic string) string { return "CALLBACK " + topic }

// dataFrame is a frame the gateway sends.
type dataFrame struct {
	SpecVersion string            `json:"specVersion"`
	Type        string            `json:"type"`
	Time        int64             `json:"time"`
	Headers     map[string]string `json:"headers"`
	Data        string            `json:"data"`
}

// ackFrame is what a client answers.
type ackFrame struct {
	Code    int               `json:"code"`
	Headers map[string]string `json:"headers"`
	Message string            `json:"message"`
	Data    string            `json:"data"`
}

type streamConn struct {
	ws     *websocket.Conn
	h      *Handler
	app    qun.App
	id     string
	base   string // scheme://host the client dialled
	topics []string
	wmu    sync.Mutex
	mu     sync.Mutex
	acks   map[string]chan ackFrame
	closed chan struct{}
	once   sync.Once
	// turn lets one frame at a time wait for its ack: the Stream SDK
	// answers each frame on a goroutine of its own and writes those
	// answers to the socket unsynchronised, so frames sent together make
	// it corrupt its own writes.
	turn chan struct{}
}

// streamSilence is how long a client may say nothing: it pings every
// 120 s by default.
const streamSilence = 5 * time.Minute

func (c *streamConn) serve(detach func()) {
	defer detach()
	defer c.Close()
	c.ws.SetPingHandler(func(data string) error {
		c.ws.SetReadDeadline(time.Now().Add(streamSilence))
		if c.h.svc.Silenced(qun.DingTalk, c.app.Key) {
			return nil // a fault: the platform stops answering pings
		}
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
	})
	for {
		c.ws.SetReadDeadline(time.Now().Add(streamSilence))
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var a ackFrame
		if json.Unmarshal(msg, &a) != nil {
			c.h.log.Warn("dingtalk: stream: an answer that is not JSON", "connection", c.id)
			continue
		}
		id := a.Headers["messageId"]
		c.mu.Lock()
		ch := c.acks[id]
		delete(c.acks, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- a
		}
	}
}

func (c *streamConn) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// Deliver implements events.Conn: an EVENT frame, then the client's ack,
// {"status":"SUCCESS"} or LATER (redeliver).
func (c *streamConn) Deliver(ctx context.Context, e qun.Event) events.Result {
	r := events.Result{Transport: "stream", Target: "connection " + c.id}
	// The SDK routes a frame by its type and topic: an EVENT on "*" for a
	// client that took every event, else on the event type it subscribed
	// to; a robot's message is a CALLBACK on its topic.
	typ, topic, body := "EVENT", "*", e.Body
	switch {
	case e.Type == qun.DingTalkBotMessage:
		if !slices.Contains(c.topics, callbackTopic(e.Type)) {
			r.Status, r.Answer = "unsubscribed", "the connection subscribed to no CALLBACK topic "+e.Type
			return r
		}
		typ, topic, body = "CALLBACK", e.Type, withSessionHost(e.Body, c.base)
	case slices.Contains(c.topics, e.Type):
		topic = e.Type
	case !slices.Contains(c.topics, "*"):
		r.Status, r.Answer = "unsubscribed", "the connection subscribed to no EVENT topic "+e.Type
		return r
	}
	select {
	case c.turn <- struct{}{}:
		defer func() { <-c.turn }()
	case <-ctx.Done():
		r.Status, r.Answer = "timeout", "the connection was busy with other frames"
		return r
	case <-c.closed:
		r.Status, r.Answer = "closed", "the connection closed before delivery"
		return r
	}
	msgID := qun.NewEventID()
	ack := make(chan ackFrame, 1)
	c.mu.Lock()
	c.acks[msgID] = ack
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.acks, msgID)
		c.mu.Unlock()
	}()
	now := c.h.svc.Now().UnixMilli()
	f := dataFrame{SpecVersion: "1.0", Type: typ, Time: now, Data: body, Headers: map[string]string{
		"appId": c.app.Key, "connectionId": c.id, "contentType": "application/json", "messageId": msgID,
		"time": strconv.FormatInt(now, 10), "topic": topic,
	}}
	if typ == "EVENT" {
		for k, v := range map[string]string{
			"eventId": e.EventID, "eventBornTime": strconv.FormatInt(e.CreatedAt.UnixMilli(), 10),
			"eventCorpId": e.Tenant, "eventType": e.Type, "eventUnifiedAppId": c.app.Key,
		} {
			f.Headers[k] = v
		}
	}
	if err := c.write(f); err != nil {
		r.Status, r.Answer = "error", err.Error()
		return r
	}
	select {
	case a := <-ack:
		var res struct {
			Status string `json:"status"`
		}
		json.Unmarshal([]byte(a.Data), &res)
		r.Status, r.Answer = res.Status, fmt.Sprintf("code %d %s %s", a.Code, a.Message, a.Data)
		if r.Status == "" {
			r.Status = strconv.Itoa(a.Code)
		}
		// An EVENT is delivered on SUCCESS (LATER asks again); a CALLBACK
		// on any 200, whose data is the handler's answer.
		r.OK = a.Code == http.StatusOK && (res.Status == "SUCCESS" || typ == "CALLBACK")
		if typ == "CALLBACK" {
			r.Status = strconv.Itoa(a.Code)
		}
	case <-ctx.Done():
		r.Status, r.Answer = "timeout", "no ack in time"
	case <-c.closed:
		r.Status, r.Answer = "closed", "the connection closed before the ack"
	}
	return r
}

// Close implements events.Conn: a SYSTEM disconnect frame first, so the
// SDK reconnects at once.
func (c *streamConn) Close() {
	c.once.Do(func() {
		close(c.closed)
		c.write(dataFrame{SpecVersion: "1.0", Type: "SYSTEM", Time: time.Now().UnixMilli(), Data: `{"reason":"server closing"}`,
			Headers: map[string]string{"topic": "disconnect", "messageId": qun.NewEventID(), "contentType": "application/json"}})
		c.wmu.Lock()
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server closing"), time.Now().Add(time.Second))
		c.wmu.Unlock()
		c.ws.Close()
	})
}

// The HTTP callback: POST url?msg_signature&timestamp&nonce with
// {"encrypt": …}, the event flattened with EventType, EventTime, CorpId
// and eventId; the receiver answers {msg_signature, timeStamp, nonce,
// encrypt} whose plaintext is "success".

// callback posts one encrypted message and checks the answer.
func (h *Handler) callback(ctx context.Context, app qun.App, plain []byte) (status int, answer []byte, err error) {
	sub := *app.Events
	enc, err := events.Seal(sub.Key, app.Key, plain)
	if err != nil {
		return 0, nil, err
	}
	ts := strconv.FormatInt(h.svc.Now().UnixMilli(), 10)
	nonce := qun.NewEventID()[:8]
	u, err := url.Parse(sub.URL)
	if err != nil {
		return 0, nil, err
	}
	q := u.Query()
	q.Set("msg_signature", events.Signature(sub.Token, ts, nonce, enc))
	q.Set("timestamp", ts)
	q.Set("nonce", nonce)
	u.RawQuery = q.Encode()
	body, _ := json.Marshal(map[string]string{"encrypt": enc})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := events.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, answer, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var reply struct {
		Signature string `json:"msg_signature"`
		TimeStamp string `json:"timeStamp"`
		Nonce     string `json:"nonce"`
		Encrypt   string `json:"encrypt"`
	}
	if err := json.Unmarshal(answer, &reply); err != nil {
		return resp.StatusCode, answer, errors.New("the answer is not the encrypted success")
	}
	if events.Signature(sub.Token, reply.TimeStamp, reply.Nonce, reply.Encrypt) != reply.Signature {
		return resp.StatusCode, answer, errors.New("the answer's msg_signature does not match")
	}
	msg, _, err := events.Open(sub.Key, reply.Encrypt)
	if err != nil || string(msg) != "success" {
		return resp.StatusCode, answer, errors.New(`the answer does not decrypt to "success"`)
	}
	return resp.StatusCode, answer, nil
}

// Push implements events.Pusher: the HTTP callback.
func (h *Handler) Push(ctx context.Context, app qun.App, e qun.Event) events.Result {
	if e.Type == qun.DingTalkBotMessage {
		return h.pushBotMessage(ctx, app, e)
	}
	r := events.Result{Transport: "http_callback", Target: app.Events.URL}
	var flat map[string]any
	if err := json.Unmarshal([]byte(e.Body), &flat); err != nil {
		r.Status, r.Answer = "error", err.Error()
		return r
	}
	flat["EventType"], flat["EventTime"], flat["CorpId"], flat["eventId"] = e.Type, strconv.FormatInt(e.CreatedAt.UnixMilli(), 10), e.Tenant, e.EventID
	plain, _ := json.Marshal(flat)
	status, answer, err := h.callback(ctx, app, plain)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.Status, r.Answer = "timeout", "no answer in time"
	case err != nil:
		r.Status, r.Answer = strconv.Itoa(status), err.Error()+": "+string(answer)
		if status == 0 {
			r.Status = "error"
		}
	default:
		r.OK, r.Status, r.Answer = true, "200", `"success"`
	}
	return r
}

// VerifyURL sends check_url to a callback URL when it is saved.
func (h *Handler) VerifyURL(ctx context.Context, app qun.App) error {
	ctx, cancel := context.WithTimeout(ctx, events.Timeouts[qun.DingTalk])
	defer cancel()
	plain, _ := json.Marshal(map[string]string{"EventType": "check_url"})
	if _, _, err := h.callback(ctx, app, plain); err != nil {
		return fmt.Errorf("the callback URL did not answer check_url: %w", err)
	}
	return nil
}
