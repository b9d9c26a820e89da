package feishu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/qunhq/qun/internal/events"
	"github.com/qunhq/qun/internal/httpx"
	"github.com/qunhq/qun/internal/qun"
)

// The long connection (larkws): POST /callback/ws/endpoint trades an app's
// credentials for a WebSocket URL and the client's settings; on the
// WebSocket, binary protobuf frames (pbbp2.Frame) carry pings and pongs
// (control) and events with their acks (data).

// frame is pbbp2.Frame. Fields 1 to 4 are proto2 "required": always
// written.
type frame struct {
	SeqID, LogID    uint64
	Service, Method int32
	Headers         []header
	PayloadEncoding string
	PayloadType     string
	Payload         []byte
	LogIDNew        string
}

type header struct{ Key, Value string }

// Frame methods.
const (
	methodControl = 0
	methodData    = 1
)

func (f frame) header(key string) string {
	for _, h := range f.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return ""
}

func (f frame) marshal() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, f.SeqID)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, f.LogID)
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(int64(f.Service)))
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(int64(f.Method)))
	for _, h := range f.Headers {
		var hb []byte
		hb = protowire.AppendTag(hb, 1, protowire.BytesType)
		hb = protowire.AppendString(hb, h.Key)
		hb = protowire.AppendTag(hb, 2, protowire.BytesType)
		hb = protowire.AppendString(hb, h.Value)
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, hb)
	}
	str := func(num protowire.Number, s string) {
		if s != "" {
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	}
	str(6, f.PayloadEncoding)
	str(7, f.PayloadType)
	if len(f.Payload) > 0 {
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, f.Payload)
	}
	str(9, f.LogIDNew)
	return b
}

var errFrame = errors.New("feishu: malformed frame")

// unmarshalFrame decodes a frame a client sent; unknown fields are
// skipped, as protobuf wants.
func unmarshalFrame(b []byte) (frame, error) {
	var f frame
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return f, errFrame
		}
		b = b[n:]
		switch {
		case num <= 4 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return f, errFrame
			}
			b = b[n:]
			switch num {
			case 1:
				f.SeqID = v
			case 2:
				f.LogID = v
			case 3:
				f.Service = int32(v)
			case 4:
				f.Method = int32(v)
			}
		case num >= 5 && num <= 9 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, errFrame
			}
			b = b[n:]
			switch num {
			case 5:
				h, err := unmarshalHeader(v)
				if err != nil {
					return f, err
				}
				f.Headers = append(f.Headers, h)
			case 6:
				f.PayloadEncoding = string(v)
			case 7:
				f.PayloadType = string(v)
			case 8:
				f.Payload = append([]byte(nil), v...)
			case 9:
				f.LogIDNew = string(v)
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return f, errFrame
			}
			b = b[n:]
		}
	}
	return f, nil
}

func unmarshalHeader(b []byte) (header, error) {
	var h header
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return h, errFrame
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return h, errFrame
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return h, errFrame
		}
		b = b[n:]
		switch num {
		case 1:
			h.Key = string(v)
		case 2:
			h.Value = string(v)
		}
	}
	return h, nil
}

// ClientConfig is what the endpoint tells the client (seconds).
type ClientConfig struct {
	ReconnectCount    int `json:"ReconnectCount"`
	ReconnectInterval int `json:"ReconnectInterval"`
	ReconnectNonce    int `json:"ReconnectNonce"`
	PingInterval      int `json:"PingInterval"`
}

// DefaultClientConfig is Feishu's: reconnect forever, every 2 minutes
// with up to 30 s of jitter, a ping every 2 minutes.
var DefaultClientConfig = ClientConfig{ReconnectCount: -1, ReconnectInterval: 120, ReconnectNonce: 30, PingInterval: 120}

// Endpoint answer codes (larkws).
const (
	wsOK         = 0
	wsAuthFailed = 514
)

type wsAnswer struct {
	Code int         `json:"code"`
	Msg  string      `json:"msg"`
	Data *wsEndpoint `json:"data,omitempty"`
}

type wsEndpoint struct {
	URL          string       `json:"URL"`
	ClientConfig ClientConfig `json:"ClientConfig"`
}

// maxFrame bounds a frame a client sends (an ack or a ping is small).
const maxFrame = 1 << 20

// connTicketTTL is how long an endpoint's URL can be dialled.
const connTicketTTL = 5 * time.Minute

func (h *Handler) wsEndpoint(w http.ResponseWriter, r *http.Request) {
	httpx.Annotate(r, "feishu", "POST /callback/ws/endpoint", "")
	var req struct {
		AppID           string `json:"AppID"`
		AppSecret       string `json:"AppSecret"`
		ClientAssertion string `json:"ClientAssertion"`
	}
	body, err := httpx.ReadBody(w, r, h.cfg.MaxBody)
	if err == nil {
		err = httpx.Unmarshal(body, &req)
	}
	answer := func(status int, a wsAnswer) { httpx.WriteJSON(w, status, "application/json; charset=utf-8", a) }
	if err != nil {
		answer(http.StatusBadRequest, wsAnswer{Code: http.StatusBadRequest, Msg: "invalid request body"})
		return
	}
	if h.cfg.Hub == nil {
		answer(http.StatusOK, wsAnswer{Code: 1, Msg: "system busy"})
		return
	}
	tok, err := h.svc.IssueToken(r.Context(), qun.TokenRequest{Kind: qun.ConnTicket, Platform: qun.Feishu, AppKey: req.AppID, Secret: req.AppSecret, TTL: connTicketTTL})
	if qun.ErrorCode(err) == qun.EInvalid {
		answer(http.StatusOK, wsAnswer{Code: wsAuthFailed, Msg: "auth failed: wrong AppID or AppSecret"})
		return
	} else if err != nil {
		answer(http.StatusInternalServerError, wsAnswer{Code: 1000040343, Msg: "internal error"})
		return
	}
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	q := url.Values{"device_id": {qun.NewEventID()[:19]}, "service_id": {"1"}, "ticket": {tok.Value}}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: "/callback/ws/connect", RawQuery: q.Encode()}
	answer(http.StatusOK, wsAnswer{Code: wsOK, Msg: "ok", Data: &wsEndpoint{URL: u.String(), ClientConfig: h.cfg.LongConn}})
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (h *Handler) wsConnect(w http.ResponseWriter, r *http.Request) {
	httpx.Annotate(r, "feishu", "GET /callback/ws/connect", "")
	q := r.URL.Query()
	actor, err := h.svc.Authenticate(r.Context(), q.Get("ticket"), qun.ConnTicket)
	if err != nil || h.cfg.Hub == nil {
		w.Header().Set("Handshake-Status", strconv.Itoa(wsAuthFailed))
		w.Header().Set("Handshake-Msg", "auth failed: the ticket is invalid or expired")
		w.Header().Set("Handshake-Autherrcode", strconv.Itoa(wsAuthFailed))
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	service, _ := strconv.ParseInt(q.Get("service_id"), 10, 32)
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	ws.NetConn().SetDeadline(time.Time{}) // the server's request deadlines end here
	ws.SetReadLimit(maxFrame)
	c := &longConn{app: actor.App.Key, ws: ws, h: h, service: int32(service), device: q.Get("device_id"), acks: make(map[string]chan frame), closed: make(chan struct{})}
	detach := h.cfg.Hub.Attach(actor.App.ID, c)
	go c.serve(detach)
}

// longConn is one client's long connection.
type longConn struct {
	ws      *websocket.Conn
	h       *Handler
	app     string // the app's key
	service int32
	device  string
	seq     atomic.Uint64
	wmu     sync.Mutex
	mu      sync.Mutex
	acks    map[string]chan frame
	closed  chan struct{}
	once    sync.Once
}

// silence is how long a client may say nothing: it pings every
// PingInterval.
func (c *longConn) silence() time.Duration {
	return 2*time.Duration(c.h.cfg.LongConn.PingInterval)*time.Second + 30*time.Second
}

func (c *longConn) serve(detach func()) {
	defer detach()
	defer c.Close()
	for {
		c.ws.SetReadDeadline(time.Now().Add(c.silence()))
		typ, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.BinaryMessage {
			continue
		}
		f, err := unmarshalFrame(msg)
		if err != nil {
			c.h.log.Warn("feishu: long connection: a frame that does not decode", "device_id", c.device, "err", err)
			continue
		}
		switch f.Method {
		case methodControl:
			if f.header("type") == "ping" {
				if c.h.svc.Silenced(qun.Feishu, c.app) {
					continue // a fault: the platform stops answering pings
				}
				conf, _ := json.Marshal(c.h.cfg.LongConn)
				pong := frame{SeqID: f.SeqID, LogID: f.LogID, Service: c.service, Method: methodControl, Headers: []header{{"type", "pong"}}, Payload: conf}
				if c.write(pong) != nil {
					return
				}
			}
		case methodData:
			id := f.header("message_id")
			c.mu.Lock()
			ack := c.acks[id]
			delete(c.acks, id)
			c.mu.Unlock()
			if ack != nil {
				ack <- f
			}
		}
	}
}

func (c *longConn) write(f frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.BinaryMessage, f.marshal())
}

// Deliver implements events.Conn: a data frame of type event, then the
// client's ack frame, whose payload's code is 200 when its handler
// succeeded.
func (c *longConn) Deliver(ctx context.Context, e qun.Event) events.Result {
	r := events.Result{Transport: "long_connection", Target: "device_id=" + c.device}
	ack := make(chan frame, 1)
	c.mu.Lock()
	c.acks[e.EventID] = ack
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.acks, e.EventID)
		c.mu.Unlock()
	}()
	now := c.h.svc.Now().UnixMilli()
	f := frame{
		SeqID: c.seq.Add(1), LogID: uint64(now), Service: c.service, Method: methodData,
		Headers: []header{
			{"type", "event"}, {"message_id", e.EventID}, {"sum", "1"}, {"seq", "0"},
			{"trace_id", qun.NewEventID()}, {"timestamp", strconv.FormatInt(now, 10)},
		},
		Payload: []byte(e.Body),
	}
	if err := c.write(f); err != nil {
		r.Status, r.Answer = "error", err.Error()
		return r
	}
	select {
	case a := <-ack:
		var resp struct {
			Code int `json:"code"`
		}
		if err := json.Unmarshal(a.Payload, &resp); err != nil {
			r.Status, r.Answer = "error", fmt.Sprintf("the ack's payload is not JSON: %.100q", a.Payload)
			return r
		}
		r.OK, r.Status, r.Answer = resp.Code == http.StatusOK, strconv.Itoa(resp.Code), string(a.Payload)
		if rt := a.header("biz_rt"); rt != "" {
			r.Answer += " biz_rt=" + rt
		}
	case <-ctx.Done():
		r.Status, r.Answer = "timeout", "no ack in time"
	case <-c.closed:
		r.Status, r.Answer = "closed", "the connection closed before the ack"
	}
	return r
}

// Close implements events.Conn.
func (c *longConn) Close() {
	c.once.Do(func() {
		close(c.closed)
		c.wmu.Lock()
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server closing"), time.Now().Add(time.Second))
		c.wmu.Unlock()
		c.ws.Close()
	})
}
