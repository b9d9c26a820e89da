package qun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"
)

// Events. A change to a chat is told to the bots that subscribed to it: the
// Service writes each event to the store's outbox in the transaction of the
// change (no event without its change, no change without its event), and
// delivery workers (package events) push it, at least once, on the
// platform's retry schedule. The rules of who is told what are here, once;
// each dialect renders the payloads (EventFormat) and carries them.

// EventKind names a change to a chat, before any platform names it.
type EventKind string

// Event kinds.
const (
	BotAdded      EventKind = "bot_added"
	BotRemoved    EventKind = "bot_removed"
	UsersAdded    EventKind = "users_added"
	UsersRemoved  EventKind = "users_removed" // by another member
	UsersLeft     EventKind = "users_left"    // on their own
	ChatUpdated   EventKind = "chat_updated"  // name, description, avatar, settings, owner
	ChatDisbanded EventKind = "chat_disbanded"
	// MessagePosted: a user posted Change.Message.
	MessagePosted EventKind = "message_posted"
	// MessageRecalled: Change.Message was recalled by its sender.
	MessageRecalled EventKind = "message_recalled"
)

// Source says where a change came from.
type Source string

// Sources of changes.
const (
	// FromAPI: a dialect API called by an app.
	FromAPI Source = "api"
	// FromClient: what a user did in the platform's client (simulated
	// through the admin API: Simulate, PostAsUser).
	FromClient Source = "client"
)

// Change is one change to a chat that bots may be told of.
type Change struct {
	Kind EventKind
	// Chat is the chat after the change; Before, for ChatUpdated, before.
	Chat, Before Chat
	// OperatorUser or OperatorApp made the change (both 0: the system).
	OperatorUser, OperatorApp int64
	// Users joined or left (UsersAdded, UsersRemoved, UsersLeft).
	Users []int64
	// Bot was added or removed (BotAdded, BotRemoved).
	Bot int64
	// Message was posted (MessagePosted) or recalled (MessageRecalled).
	Message *Message
	Source  Source
	At      time.Time
}

// EventMode is how an app receives its events.
type EventMode string

// Event modes.
const (
	// Connection: the app holds a long connection to the platform (Feishu
	// long connection, DingTalk Stream) and the node holding it delivers.
	Connection EventMode = "connection"
	// Webhook: the platform posts to the app's URL (Feishu request URL,
	// DingTalk HTTP callback, WeCom callback URL); any node delivers.
	Webhook EventMode = "webhook"
)

// Subscription is what an app subscribed to and how it is told.
type Subscription struct {
	Mode EventMode `json:"mode"`
	// URL receives webhook pushes.
	URL string `json:"url,omitempty"`
	// Token is Feishu's verification token, DingTalk's or WeCom's callback
	// Token.
	Token string `json:"token,omitempty"`
	// Key is Feishu's encrypt key (optional), DingTalk's aes_key or WeCom's
	// EncodingAESKey (43 characters).
	Key string `json:"key,omitempty"`
	// Types are the platform's event types subscribed to; none means every
	// chat event the platform has (EventTypes).
	Types []string `json:"types,omitempty"`
}

// Wants reports whether the subscription covers an event type.
func (s Subscription) Wants(typ string) bool {
	return len(s.Types) == 0 || slices.Contains(s.Types, typ)
}

// Event types, as each platform names them.
const (
	FeishuBotAdded     = "im.chat.member.bot.added_v1"
	FeishuBotDeleted   = "im.chat.member.bot.deleted_v1"
	FeishuUserAdded    = "im.chat.member.user.added_v1"
	FeishuUserDeleted  = "im.chat.member.user.deleted_v1"
	FeishuUserWithdraw = "im.chat.member.user.withdrawn_v1"
	FeishuChatUpdated  = "im.chat.updated_v1"
	FeishuDisbanded    = "im.chat.disbanded_v1"
	FeishuMessage      = "im.message.receive_v1"
	FeishuRecalled     = "im.message.recalled_v1"

	DingTalkAddMember = "chat_add_member"
	DingTalkRemove    = "chat_remove_member"
	DingTalkQuit      = "chat_quit"
	DingTalkOwner     = "chat_update_owner"
	DingTalkTitle     = "chat_update_title"
	DingTalkDisband   = "chat_disband"
	// DingTalkBotMessage is the Stream CALLBACK topic of a message that
	// @mentions the app's robot (over HTTP: the robot's message URL).
	DingTalkBotMessage  = "/v1.0/im/bot/messages/get"
	WeComExternalChange = "change_external_chat"
)

// EventTypes lists the chat event types qun emits on a platform.
func EventTypes(p Platform) []string {
	switch p {
	case Feishu:
		return []string{FeishuBotAdded, FeishuBotDeleted, FeishuUserAdded, FeishuUserDeleted, FeishuChatUpdated, FeishuDisbanded, FeishuMessage, FeishuRecalled}
	case DingTalk:
		return []string{DingTalkAddMember, DingTalkRemove, DingTalkQuit, DingTalkOwner, DingTalkTitle, DingTalkDisband, DingTalkBotMessage}
	case WeCom:
		return []string{WeComExternalChange}
	}
	return nil
}

// typesOf names the events a change is on a platform (none: the platform
// tells nobody).
func typesOf(ch Change) []string {
	p := ch.Chat.Platform
	switch p {
	case Feishu:
		t := map[EventKind]string{
			BotAdded: FeishuBotAdded, BotRemoved: FeishuBotDeleted, UsersAdded: FeishuUserAdded,
			UsersRemoved: FeishuUserDeleted, UsersLeft: FeishuUserDeleted, ChatUpdated: FeishuChatUpdated,
			ChatDisbanded: FeishuDisbanded, MessagePosted: FeishuMessage, MessageRecalled: FeishuRecalled,
		}[ch.Kind]
		if t == "" {
			return nil
		}
		return []string{t}
	case DingTalk:
		switch ch.Kind {
		case UsersAdded:
			return []string{DingTalkAddMember}
		case UsersRemoved:
			return []string{DingTalkRemove}
		case UsersLeft:
			return []string{DingTalkQuit}
		case ChatDisbanded:
			return []string{DingTalkDisband}
		case MessagePosted:
			return []string{DingTalkBotMessage}
		case ChatUpdated:
			var out []string
			if ch.Before.Name != ch.Chat.Name {
				out = append(out, DingTalkTitle)
			}
			if ch.Before.OwnerUser != ch.Chat.OwnerUser || ch.Before.OwnerApp != ch.Chat.OwnerApp {
				out = append(out, DingTalkOwner)
			}
			return out
		}
	case WeCom:
		// "通过API进行的操作不会产生回调": what apps do through the API
		// is told to nobody; what users do in the client to a group chat
		// is (change_external_chat), renames and owner changes included.
		if ch.Source != FromClient || ch.Chat.Class != CorpGroup {
			return nil
		}
		switch ch.Kind {
		case UsersAdded, UsersRemoved, UsersLeft, ChatDisbanded:
			return []string{WeComExternalChange}
		case ChatUpdated:
			if ch.Before.Name != ch.Chat.Name || ch.Before.OwnerUser != ch.Chat.OwnerUser {
				return []string{WeComExternalChange}
			}
		}
	}
	return nil
}

// EventStatus is where an event is in its delivery.
type EventStatus string

// Event statuses.
const (
	EventPending   EventStatus = "pending"
	EventDelivered EventStatus = "delivered"
	// EventFailed: every attempt of the retry schedule failed.
	EventFailed EventStatus = "failed"
)

// Event is one event in the outbox: what one app is told of one change.
type Event struct {
	ID int64 `json:"-"`
	// EventID is the same on every attempt.
	EventID  string    `json:"event_id"`
	Platform Platform  `json:"platform"`
	App      int64     `json:"-"`
	AppKey   string    `json:"app"`
	Tenant   string    `json:"tenant"`
	ChatID   string    `json:"chat_id"`
	Type     string    `json:"type"`
	Mode     EventMode `json:"mode"`
	// Body is the event's plaintext payload in the platform's shape; a
	// transport encrypts and frames it.
	Body      string      `json:"body"`
	CreatedAt time.Time   `json:"created_at"`
	Status    EventStatus `json:"status"`
	Attempts  int         `json:"attempts"`
	// DueAt is when the next attempt is due; zero when none is.
	DueAt time.Time `json:"due_at"`
}

// Attempt is one try at delivering an event: the delivery journal.
type Attempt struct {
	ID    int64 `json:"-"`
	Event int64 `json:"-"`
	// EventID repeats the event's, for the journal's readers.
	EventID   string    `json:"event_id"`
	At        time.Time `json:"at"`
	Node      string    `json:"node,omitempty"`
	Transport string    `json:"transport"`
	Target    string    `json:"target"`
	OK        bool      `json:"ok"`
	// Status is the answer's status ("200", "LATER", "timeout", …).
	Status    string `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
	// Answer is the start of what the receiver answered, or the error.
	Answer string `json:"answer,omitempty"`
}

// EventFilter selects events for the journal. Zero fields do not filter.
type EventFilter struct {
	ChatID string
	App    int64
	Status EventStatus
	// Before and Limit page through the events, newest first.
	Before int64
	Limit  int
}

// EventDraft is an event being written: what a format renders.
type EventDraft struct {
	Change  Change
	App     App
	Tenant  Tenant
	Type    string
	EventID string
}

// EventFormat renders events in one platform's shape; each dialect has
// one, registered with Service.SetEventFormat before the Service serves.
type EventFormat interface {
	// RenderEvent returns the plaintext payload of the event.
	RenderEvent(tx Tx, d EventDraft) ([]byte, error)
}

// SetEventFormat makes f render the events of platform p.
func (s *Service) SetEventFormat(p Platform, f EventFormat) {
	if s.formats == nil {
		s.formats = make(map[Platform]EventFormat)
	}
	s.formats[p] = f
}

// Events returns the wake-up channel of the outbox: it receives (without
// blocking the writer) when events may have been written.
func (s *Service) Events() <-chan struct{} { return s.wake }

// App reads an app by its ID.
func (s *Service) App(ctx context.Context, id int64) (App, error) {
	var a App
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		a, err = tx.App(id)
		return err
	})
	return a, err
}

// NewEventID returns a fresh event ID (32 hexadecimal digits).
func NewEventID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// subscriberCache keeps the subscribed apps of each tenant at one
// directory version (see userCache): most changes find none, at the cost
// of one meta read.
type subscriberCache struct {
	mu      sync.Mutex
	version int64
	apps    map[int64][]App
}

// subscribers returns the installed apps of a tenant with a subscription.
func (s *Service) subscribers(tx Tx, p Platform, tenant int64) ([]App, error) {
	v, err := directoryVersion(tx)
	if err != nil {
		return nil, err
	}
	c := &s.subs
	c.mu.Lock()
	if c.version == v {
		if apps, ok := c.apps[tenant]; ok {
			c.mu.Unlock()
			return apps, nil
		}
	}
	c.mu.Unlock()
	all, err := tx.Apps(p, tenant)
	if err != nil {
		return nil, err
	}
	var apps []App
	for _, a := range all {
		if a.Events != nil && a.Installed {
			apps = append(apps, a)
		}
	}
	c.mu.Lock()
	if c.version != v || c.apps == nil {
		c.version, c.apps = v, make(map[int64][]App)
	}
	c.apps[tenant] = apps
	c.mu.Unlock()
	return apps, nil
}

// emit writes the events of changes to the outbox, in tx. Who is told
// follows each platform's rules:
//   - Feishu tells the bots in the chat (the bot itself of its being added
//     or removed), when the app's bot ability is on.
//   - DingTalk tells the apps whose robot is in the chat or that created
//     it.
//   - WeCom tells the subscribed apps of the corporation of what users do
//     in the client (typesOf).
//
// Every app must have subscribed to the event's type and hold one of the
// platform's chat-reading permissions (eventScopes).
func (s *Service) emit(tx Tx, changes ...Change) error {
	var out []Event
	for _, ch := range changes {
		types := typesOf(ch)
		if len(types) == 0 {
			continue
		}
		c := ch.Chat
		subs, err := s.subscribers(tx, c.Platform, c.TenantID)
		if err != nil {
			return err
		}
		if len(subs) == 0 {
			continue
		}
		told, err := s.told(tx, ch, subs)
		if err != nil {
			return err
		}
		if len(told) == 0 {
			continue
		}
		f := s.formats[c.Platform]
		if f == nil {
			continue // no dialect serves the platform: nobody to tell
		}
		tenant, err := tx.Tenant(c.TenantID)
		if err != nil {
			return err
		}
		for _, app := range told {
			for _, typ := range types {
				if !app.Events.Wants(typ) {
					continue
				}
				d := EventDraft{Change: ch, App: app, Tenant: tenant, Type: typ, EventID: NewEventID()}
				body, err := f.RenderEvent(tx, d)
				if err != nil {
					return err
				}
				out = append(out, Event{
					EventID: d.EventID, Platform: c.Platform, App: app.ID, AppKey: app.Key, Tenant: tenant.Key,
					ChatID: c.ChatID, Type: typ, Mode: app.Events.Mode, Body: string(body),
					CreatedAt: ch.At, Status: EventPending, DueAt: ch.At,
				})
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	if err := tx.AddEvents(out); err != nil {
		return err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// eventScopes are the permissions an app needs to be told of chat
// events (any one of them): Feishu's chat-reading scopes, DingTalk's group
// permissions. WeCom asks none of its callbacks.
var eventScopes = map[Platform][]string{
	Feishu:   {"im:chat", "im:chat:readonly", "im:chat:read"},
	DingTalk: {"qyapi_chat_read", "qyapi_chat_manage"},
}

// messageScopes are the Feishu scopes under which a bot is told of
// messages (any one of them); a DingTalk robot needs none.
var messageScopes = []string{"im:message", "im:message:readonly", "im:message.group_at_msg", "im:message.group_at_msg:readonly", groupMessages}

// told picks, of the subscribed apps, those a change is told to.
func (s *Service) told(tx Tx, ch Change, subs []App) ([]App, error) {
	c := ch.Chat
	if c.Platform == WeCom {
		return subs, nil
	}
	message := ch.Kind == MessagePosted || ch.Kind == MessageRecalled
	var candidates []int64
	for _, a := range subs {
		switch {
		case c.Platform == Feishu && !a.Bot,
			c.Platform == Feishu && message && !a.HasScope(messageScopes...),
			c.Platform == DingTalk && message && (!a.Bot || !mentions(ch.Message, a.ID)),
			!message && !a.HasScope(eventScopes[c.Platform]...):
			continue
		}
		if ch.Kind == BotAdded || ch.Kind == BotRemoved {
			if a.ID == ch.Bot {
				return []App{a}, nil
			}
			continue
		}
		if ch.Kind == MessagePosted && c.Class != P2P && !hears(a, ch.Message) {
			continue // a bot hears every message of its one-to-one chats
		}
		candidates = append(candidates, a.ID)
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	in, err := tx.MembersOf(c.ID, nil, candidates)
	if err != nil {
		return nil, err
	}
	var out []App
	for _, a := range subs {
		member := slices.ContainsFunc(in, func(m Member) bool { return m.App == a.ID })
		// A DingTalk app that created a group is told of its events; its
		// robot hears only a group it is in.
		creator := c.Platform == DingTalk && c.CreatorApp == a.ID && !message
		direct := c.Class == P2P && c.CreatorApp == a.ID
		if slices.Contains(candidates, a.ID) && (member || creator || direct) {
			out = append(out, a)
		}
	}
	return out, nil
}

// groupMessages is the Feishu scope under which a bot hears every message
// of its groups, not only those that mention it.
const groupMessages = "im:message.group_msg"

// hears reports whether a bot in the chat is told of a user's message: it
// is mentioned (by name, or on Feishu @all), or it may read every group
// message (Feishu).
func hears(a App, m *Message) bool {
	if a.Platform == Feishu && a.HasScope(groupMessages) {
		return true
	}
	return slices.ContainsFunc(m.Mentions, func(x Mention) bool { return x.App == a.ID || (x.All && a.Platform == Feishu) })
}

// mentions reports whether a message names an app's robot.
func mentions(m *Message, app int64) bool {
	return slices.ContainsFunc(m.Mentions, func(x Mention) bool { return x.App == app })
}

// Retry schedules: the waits after each failed attempt, then the event
// fails. Feishu re-pushes at about 15 s, 5 min, 1 h and 6 h; WeCom retries
// three times, 5 s apart; DingTalk documents redelivery (a missing ack or
// LATER) without a schedule, and qun uses 10 s, 1 min, 5 min, 1 h.
var retrySchedule = map[Platform][]time.Duration{
	Feishu:   {15 * time.Second, 5 * time.Minute, time.Hour, 6 * time.Hour},
	DingTalk: {10 * time.Second, time.Minute, 5 * time.Minute, time.Hour},
	WeCom:    {5 * time.Second, 5 * time.Second, 5 * time.Second},
}

// RetrySchedule returns the waits between a platform's attempts.
func RetrySchedule(p Platform) []time.Duration { return slices.Clone(retrySchedule[p]) }

// Claim asks for due events to deliver.
type Claim struct {
	// Connected are the apps with a long connection on the caller's node.
	Connected []int64
	// InFlight counts the attempts the caller has under way, by app.
	InFlight map[int64]int
	// Limit bounds the claim; PerApp (0: no bound) the attempts of one
	// app under way once it is claimed, so that one slow receiver cannot
	// take every worker.
	Limit, PerApp int
	// Lease is how long the events are the caller's.
	Lease time.Duration
}

// Due asks a store for the pending events due at Now: the webhook events
// and the connection events of the apps in Connected, less those of the
// apps in Busy, at most Limit in all and PerApp (0: no bound but Limit)
// of any one app.
type Due struct {
	Now             time.Time
	Connected, Busy []int64
	Limit, PerApp   int
}

// Each is how many events of one app d takes at most.
func (d Due) Each() int {
	if d.PerApp > 0 && d.PerApp < d.Limit {
		return d.PerApp
	}
	return d.Limit
}

// busy lists the apps with PerApp attempts under way.
func (c Claim) busy() []int64 {
	var out []int64
	for app, n := range c.InFlight {
		if c.PerApp > 0 && n >= c.PerApp {
			out = append(out, app)
		}
	}
	return out
}

// ClaimEvents leases due events to the caller: the webhook events, which
// any node delivers, and the connection events of the apps connected to
// the caller. Of nodes claiming together, each event goes to one.
func (s *Service) ClaimEvents(ctx context.Context, c Claim) ([]Event, error) {
	var out []Event
	err := s.store.Update(ctx, func(tx Tx) error {
		out = out[:0]
		now := s.now()
		due, err := tx.DueEvents(Due{Now: now, Connected: c.Connected, Busy: c.busy(), Limit: c.Limit, PerApp: c.PerApp})
		if err != nil {
			return err
		}
		taken := map[int64]int{}
		for _, e := range due {
			if c.PerApp > 0 && c.InFlight[e.App]+taken[e.App] >= c.PerApp {
				continue
			}
			taken[e.App]++
			e.DueAt = now.Add(c.Lease)
			if err := tx.UpdateEvent(e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// DueEvents reports whether any event is due for the caller (a read
// outside the writer, before claiming).
func (s *Service) DueEvents(ctx context.Context, c Claim) (bool, error) {
	var any bool
	err := s.store.View(ctx, func(tx Tx) error {
		due, err := tx.DueEvents(Due{Now: s.now(), Connected: c.Connected, Busy: c.busy(), Limit: 1})
		any = len(due) > 0
		return err
	})
	return any, err
}

// RecordAttempts journals attempts (each naming its event by Event), in
// one transaction (a node's finished attempts share a commit), and
// schedules what follows each: nothing once delivered, the next attempt
// after the platform's wait, or nothing more once the schedule is spent.
// A failure (DingTalk's LATER included) is retried. An attempt at an event that no longer exists (its app
// was deleted) is skipped.
func (s *Service) RecordAttempts(ctx context.Context, as []Attempt) ([]Event, error) {
	var out []Event
	err := s.store.Update(ctx, func(tx Tx) error {
		out = out[:0]
		for _, a := range as {
			e, err := tx.Event(a.Event)
			if ErrorCode(err) == ENotFound {
				out = append(out, Event{})
				continue
			} else if err != nil {
				return err
			}
			a.EventID = e.EventID
			if err := tx.AddAttempt(&a); err != nil {
				return err
			}
			if e.Status != EventPending {
				out = append(out, e) // delivered by an earlier attempt that ran past its lease
				continue
			}
			e.Attempts++
			schedule := retrySchedule[e.Platform]
			switch {
			case a.OK:
				e.Status, e.DueAt = EventDelivered, time.Time{}
			case e.Attempts > len(schedule):
				e.Status, e.DueAt = EventFailed, time.Time{}
			default:
				e.DueAt = a.At.Add(schedule[e.Attempts-1])
			}
			if err := tx.UpdateEvent(e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Journal lists events with their attempts, newest first.
func (s *Service) Journal(ctx context.Context, f EventFilter) ([]Event, map[int64][]Attempt, error) {
	var (
		events   []Event
		attempts map[int64][]Attempt
	)
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if events, err = tx.Events(f); err != nil {
			return err
		}
		ids := make([]int64, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		all, err := tx.Attempts(ids)
		if err != nil {
			return err
		}
		attempts = make(map[int64][]Attempt)
		for _, a := range all {
			attempts[a.Event] = append(attempts[a.Event], a)
		}
		return nil
	})
	return events, attempts, err
}

// UsersOf reads the users with the given IDs in one read, in the order of
// ids (what a change lists, in the order it lists them), skipping IDs
// that name nobody.
func UsersOf(tx Tx, ids []int64) ([]User, error) {
	us, err := tx.UsersByID(ids)
	if err != nil {
		return nil, err
	}
	pos := make(map[int64]int, len(ids))
	for i, id := range ids {
		if _, ok := pos[id]; !ok {
			pos[id] = i
		}
	}
	slices.SortFunc(us, func(a, b User) int { return pos[a.ID] - pos[b.ID] })
	return us, nil
}
