package qun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Messages. A message belongs to a chat and has a sender (a user, or an
// app's bot), a type and a content document in the platform's own shape
// (the dialect checks it), the users and bots it mentions, and the
// message it replies to. The rules of who may post are here; what a bot
// is told of a user's message follows the events' rules (emit).

// Message is a message in a chat.
type Message struct {
	ID        int64    `json:"-"`
	MessageID string   `json:"message_id"`
	Chat      int64    `json:"-"`
	ChatID    string   `json:"chat_id"`
	Platform  Platform `json:"platform"`
	// SenderUser or SenderApp sent it.
	SenderUser int64 `json:"sender_user,omitempty"`
	SenderApp  int64 `json:"sender_app,omitempty"`
	// Type is the platform's message type (Feishu msg_type).
	Type string `json:"type"`
	// Content is the platform's content document.
	Content  string    `json:"content"`
	Mentions []Mention `json:"mentions,omitempty"`
	// ParentID and RootID are the message replied to and the first of its
	// thread.
	ParentID string `json:"parent_id,omitempty"`
	RootID   string `json:"root_id,omitempty"`
	// ThreadID is the thread the message is in (Feishu omt_…): a reply in
	// a thread starts one at the message replied to, and replies to its
	// messages stay in it.
	ThreadID  string    `json:"thread_id,omitempty"`
	Recalled  bool      `json:"recalled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Mention is a user or a bot a message mentions, or everyone (All), with
// its place in the content (Key, Feishu's "@_user_1").
type Mention struct {
	Key  string `json:"key"`
	User int64  `json:"user,omitempty"`
	App  int64  `json:"app,omitempty"`
	All  bool   `json:"all,omitempty"`
	Name string `json:"name"`
}

// NewMessage is a message to send.
type NewMessage struct {
	Type, Content string
	Mentions      []Mention
	// ReplyTo is the message_id replied to ("": none).
	ReplyTo string
	// InThread replies in a thread (Feishu reply_in_thread).
	InThread bool
	// Dedupe, when set, makes a repeat within the platform's window
	// return the first message.
	Dedupe string
}

// MessageFilter selects a chat's messages. Zero fields do not filter.
type MessageFilter struct {
	Chat int64
	// Since and Until bound the creation time (inclusive).
	Since, Until time.Time
	// Desc lists newest first; After continues after a message (in the
	// listing's order).
	Desc  bool
	After *MessageCursor
	Limit int
	// SenderUser and SenderApp select one sender.
	SenderUser, SenderApp int64
}

// MessageCursor is a position in a chat's messages.
type MessageCursor struct {
	At time.Time
	ID int64
}

// messageDedupe is how long a send's dedupe key holds (Feishu: an hour).
const messageDedupe = time.Hour

// SendMessage posts a message from the actor's bot into a chat: the bot
// must be in it, the chat not dissolved, and, when only the owner and
// managers may speak, the bot one of them.
func (s *Service) SendMessage(ctx context.Context, actor Actor, chatID string, in NewMessage) (Message, error) {
	var out Message
	err := s.store.Update(ctx, func(tx Tx) error {
		a, err := enter(tx, actor, chatID, speaker, false)
		if err != nil {
			return err
		}
		if a.rules.robotSends {
			if _, err := tx.Member(a.chat.ID, 0, actor.App.ID); ErrorCode(err) == ENotFound {
				return Errorf(EForbidden, ReasonNotInChat, "the app's robot is not in the group")
			} else if err != nil {
				return err
			}
		}
		if a.chat.Settings.WhoCanSpeak != Everyone && !a.admin && a.chat.OwnerApp != actor.App.ID {
			return Errorf(EForbidden, ReasonMuted, "only the owner and managers may speak in this chat")
		}
		out, err = s.post(tx, a.chat, 0, actor.App.ID, in)
		return err
	})
	return out, err
}

// post writes a message; a repeated dedupe key returns the first one.
func (s *Service) post(tx Tx, c Chat, user, app int64, in NewMessage) (Message, error) {
	now := s.now()
	m := Message{
		MessageID: rulesOf[c.Platform].newMessageID(), Chat: c.ID, ChatID: c.ChatID, Platform: c.Platform,
		SenderUser: user, SenderApp: app, Type: in.Type, Content: in.Content, Mentions: in.Mentions,
		CreatedAt: now, UpdatedAt: now,
	}
	if in.ReplyTo != "" {
		parent, err := tx.MessageByID(in.ReplyTo)
		if ErrorCode(err) == ENotFound || (err == nil && parent.Chat != c.ID) {
			return Message{}, Errorf(ENotFound, ReasonMessageNotFound, "no message %q in the chat", in.ReplyTo)
		} else if err != nil {
			return Message{}, err
		}
		if parent.Recalled {
			return Message{}, Errorf(EInvalid, ReasonMessageRecalled, "the message replied to was recalled")
		}
		m.ParentID, m.RootID = parent.MessageID, parent.RootID
		if m.RootID == "" {
			m.RootID = parent.MessageID
		}
		if newThread := rulesOf[c.Platform].newThreadID; newThread != nil && (in.InThread || parent.ThreadID != "") {
			m.ThreadID = parent.ThreadID
			if m.ThreadID == "" {
				// The thread starts at the message replied to.
				m.ThreadID = newThread()
				parent.ThreadID = m.ThreadID
				if err := tx.UpdateMessage(parent); err != nil {
					return Message{}, err
				}
			}
		}
	}
	if in.Dedupe != "" {
		d := Dedupe{Scope: fmt.Sprintf("message|%s|%d|%d|%d", c.Platform, c.ID, user, app), Key: in.Dedupe, ChatID: m.MessageID, CreatedAt: now}
		holder, err := tx.ClaimDedupe(d, now.Add(-messageDedupe))
		if err != nil {
			return Message{}, err
		}
		if holder != m.MessageID {
			return tx.MessageByID(holder)
		}
	}
	if err := tx.AddMessage(&m); err != nil {
		return Message{}, err
	}
	if err := touch(tx, c.ID, now); err != nil {
		return Message{}, err
	}
	if user == 0 {
		return m, nil // bots are told of what users say, not of what bots say
	}
	ch := Change{Kind: MessagePosted, Chat: c, OperatorUser: user, Message: &m, Source: FromClient, At: now}
	return m, s.emit(tx, ch)
}

// UserPost is a message a user posts in the client (simulated).
type UserPost struct {
	ChatID string
	// User posts: a user ID of the chat's tenant.
	User string
	NewMessage
}

// PostAsUser posts a message as a user in the client: the user must be in
// the chat and may speak there. The bots are told as the platform tells
// them.
func (s *Service) PostAsUser(ctx context.Context, in UserPost) (Message, error) {
	var out Message
	err := s.store.Update(ctx, func(tx Tx) error {
		c, err := tx.ChatByChatID(in.ChatID)
		if err != nil {
			return Errorf(ENotFound, ReasonChatNotFound, "no chat %q", in.ChatID)
		}
		if c.Status == Dissolved {
			return Errorf(EInvalid, ReasonChatDissolved, "the chat is dissolved")
		}
		u, err := tx.UserByUserID(c.TenantID, in.User)
		if err != nil {
			return Errorf(ENotFound, ReasonNotExisted, "no user %q in the chat's tenant", in.User)
		}
		m, err := tx.Member(c.ID, u.ID, 0)
		if ErrorCode(err) == ENotFound {
			return Errorf(EForbidden, ReasonNotInChat, "%s is not in the chat", in.User)
		} else if err != nil {
			return err
		}
		if c.Settings.WhoCanSpeak != Everyone && m.Role == RoleMember {
			return Errorf(EForbidden, ReasonMuted, "only the owner and managers may speak in this chat")
		}
		out, err = s.post(tx, c, u.ID, 0, in.NewMessage)
		return err
	})
	return out, err
}

// ChatMessages lists a chat's messages for an actor whose bot is in it.
func (s *Service) ChatMessages(ctx context.Context, actor Actor, chatID string, f MessageFilter) ([]Message, error) {
	var out []Message
	err := s.store.View(ctx, func(tx Tx) error {
		a, err := enter(tx, actor, chatID, speaker, false)
		if err != nil {
			return err
		}
		f.Chat = a.chat.ID
		out, err = tx.Messages(f)
		return err
	})
	return out, err
}

// MessageFor returns a message of a chat the actor's bot is in.
func (s *Service) MessageFor(ctx context.Context, actor Actor, messageID string) (Message, error) {
	var out Message
	err := s.store.View(ctx, func(tx Tx) error {
		m, err := tx.MessageByID(messageID)
		if ErrorCode(err) == ENotFound {
			return Errorf(ENotFound, ReasonMessageNotFound, "no message %q", messageID)
		} else if err != nil {
			return err
		}
		c, err := tx.Chat(m.Chat)
		if err != nil {
			return err
		}
		if _, err := enter(tx, actor, c.ChatID, speaker, false); err != nil {
			return err
		}
		out = m
		return nil
	})
	return out, err
}

// RecallMessage recalls a message the actor's bot sent; chatID, when not
// "", is the chat the message must be in. The bots of the chat are told
// (MessageRecalled).
func (s *Service) RecallMessage(ctx context.Context, actor Actor, chatID, messageID string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		m, c, err := botMessage(tx, actor, chatID, messageID)
		if err != nil {
			return err
		}
		if m.SenderApp != actor.App.ID {
			return Errorf(EForbidden, ReasonNotSender, "a bot recalls only its own messages")
		}
		return s.recall(tx, c, m, 0, actor.App.ID)
	})
}

// RecallAsUser recalls a message a user sent (simulated client action).
func (s *Service) RecallAsUser(ctx context.Context, chatID, user, messageID string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		m, c, err := messageIn(tx, chatID, messageID)
		if err != nil {
			return err
		}
		u, err := tx.UserByUserID(c.TenantID, user)
		if err != nil {
			return Errorf(ENotFound, ReasonNotExisted, "no user %q in the chat's tenant", user)
		}
		if m.SenderUser != u.ID {
			return Errorf(EForbidden, ReasonNotSender, "a user recalls only their own messages")
		}
		return s.recall(tx, c, m, u.ID, 0)
	})
}

// messageIn reads a message and its chat; chatID "" takes any chat.
func messageIn(tx Tx, chatID, messageID string) (Message, Chat, error) {
	m, err := tx.MessageByID(messageID)
	if ErrorCode(err) == ENotFound || (err == nil && chatID != "" && m.ChatID != chatID) {
		return Message{}, Chat{}, Errorf(ENotFound, ReasonMessageNotFound, "no message %q", messageID)
	} else if err != nil {
		return Message{}, Chat{}, err
	}
	c, err := tx.Chat(m.Chat)
	return m, c, err
}

// botMessage reads a message of a chat the actor's bot is in; chatID, when
// not "", names the chat (in any of the platform's IDs), which is checked
// first.
func botMessage(tx Tx, actor Actor, chatID, messageID string) (Message, Chat, error) {
	if chatID == "" {
		m, c, err := messageIn(tx, "", messageID)
		if err != nil {
			return m, c, err
		}
		_, err = enter(tx, actor, c.ChatID, speaker, false)
		return m, c, err
	}
	a, err := enter(tx, actor, chatID, speaker, false)
	if err != nil {
		return Message{}, Chat{}, err
	}
	m, c, err := messageIn(tx, a.chat.ChatID, messageID)
	return m, c, err
}

func (s *Service) recall(tx Tx, c Chat, m Message, user, app int64) error {
	if m.Recalled {
		return Errorf(EInvalid, ReasonMessageRecalled, "the message was recalled already")
	}
	m.Recalled, m.UpdatedAt = true, s.now()
	if err := tx.UpdateMessage(m); err != nil {
		return err
	}
	ch := Change{Kind: MessageRecalled, Chat: c, OperatorUser: user, OperatorApp: app, Message: &m, Source: FromAPI, At: m.UpdatedAt}
	if user != 0 {
		ch.Source = FromClient
	}
	return s.emit(tx, ch)
}

// maxReaders bounds the readers a query returns.
const maxReaders = 1000

// Readers are the users who have read a message the actor's bot sent. A
// user has read what was posted before they last posted in the chat
// (qun has no client to open a chat with: a test plays the reader by
// posting). sent is always true once the message is stored.
func (s *Service) Readers(ctx context.Context, actor Actor, chatID, messageID string) ([]User, error) {
	var out []User
	err := s.store.View(ctx, func(tx Tx) error {
		m, c, err := botMessage(tx, actor, chatID, messageID)
		if err != nil {
			return err
		}
		if m.SenderApp != actor.App.ID {
			return Errorf(EForbidden, ReasonNotSender, "a bot reads the receipts of its own messages only")
		}
		later, err := tx.Messages(MessageFilter{Chat: c.ID, Since: m.CreatedAt, Limit: maxReaders})
		if err != nil {
			return err
		}
		var ids []int64
		for _, x := range later {
			if x.SenderUser != 0 && x.ID != m.ID && !slices.Contains(ids, x.SenderUser) {
				ids = append(ids, x.SenderUser)
			}
		}
		out, err = UsersOf(tx, ids)
		return err
	})
	return out, err
}

// Messages lists a chat's messages for the admin API: any chat, any
// sender.
func (s *Service) Messages(ctx context.Context, chatID string, f MessageFilter) ([]Message, error) {
	var out []Message
	err := s.store.View(ctx, func(tx Tx) error {
		c, err := tx.ChatByChatID(chatID)
		if err != nil {
			return Errorf(ENotFound, ReasonChatNotFound, "no chat %q", chatID)
		}
		f.Chat = c.ID
		out, err = tx.Messages(f)
		return err
	})
	return out, err
}

// SendDirect sends a message from the actor's bot to a user, in their
// one-to-one chat (created on the first message): the user must be in
// the app's visible range. The chat's ID is derived from the bot and the
// user, so every node finds the same chat.
func (s *Service) SendDirect(ctx context.Context, actor Actor, to Ref, in NewMessage) (Message, error) {
	if err := checkBot(actor); err != nil {
		return Message{}, err
	}
	var out Message
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := newResolver(tx, actor, nil).user(to)
		if err != nil {
			return err
		}
		if u.TenantID != actor.Tenant.ID || !actor.App.Sees(u) {
			return &Error{Code: EForbidden, Reason: ReasonNotVisible, IDs: []string{to.Value}, Message: "the user is outside the app's visible range"}
		}
		c, err := s.p2p(tx, actor, u)
		if err != nil {
			return err
		}
		out, err = s.post(tx, c, 0, actor.App.ID, in)
		return err
	})
	return out, err
}

// p2p finds or creates the one-to-one chat of the actor's bot and a user.
// Concurrent first messages claim the pair's dedupe key: the loser waits
// for the winner and reads its chat.
func (s *Service) p2p(tx Tx, actor Actor, u User) (Chat, error) {
	sum := sha256.Sum256([]byte(actor.App.Key + "|" + strconv.FormatInt(u.ID, 10)))
	id := "oc_" + hex.EncodeToString(sum[:16])
	c, err := tx.ChatByChatID(id)
	if ErrorCode(err) != ENotFound {
		return c, err
	}
	now := s.now()
	mine := id + "|" + randomHex(8)
	holder, err := tx.ClaimDedupe(Dedupe{Scope: "p2p|" + string(actor.App.Platform) + "|" + actor.App.Key, Key: u.UserID, ChatID: mine, CreatedAt: now}, time.Time{})
	if err != nil {
		return Chat{}, err
	}
	if holder != mine {
		return tx.ChatByChatID(id)
	}
	c = Chat{
		ChatID: id, Class: P2P, Platform: actor.App.Platform, TenantID: actor.Tenant.ID, CreatorApp: actor.App.ID,
		OwnerUser: u.ID, Settings: DefaultSettings(), Status: Normal, CreatedAt: now, UpdatedAt: now,
	}
	err = tx.CreateChatWithMembers(&c, []Member{{User: u.ID, Role: RoleMember, JoinedAt: now}})
	return c, err
}

// AddRobot puts the actor's robot into a chat the actor's app manages
// (DingTalk's orgRobots/add): robotCode must be the app's own (an internal
// app's robotCode is its appKey). Adding it again is no error.
func (s *Service) AddRobot(ctx context.Context, actor Actor, chatID, robotCode string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if robotCode != actor.App.Key || !actor.App.Bot {
			return Errorf(EInvalid, ReasonBotNotFound, "no robot %q of the app", robotCode)
		}
		a, err := enter(tx, actor, chatID, memberOnly, true)
		if err != nil {
			return err
		}
		if _, err := tx.AddMember(Member{Chat: a.chat.ID, App: actor.App.ID, Role: RoleMember, JoinedAt: s.now()}); err != nil {
			return err
		}
		return touch(tx, a.chat.ID, s.now())
	})
}
