package qun_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/sqlite"
)

// TestWhoMaySpeak: in a chat where only the owner and managers may speak,
// a member bot and a member user are refused (ReasonMuted), a manager
// bot and the owner bot are not; a dissolved chat takes no message; a bot
// outside the chat is told it is not in it; a reply names a message of
// the same chat; the sender alone recalls.
func TestWhoMaySpeak(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "qun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := qun.NewService(db)
	d, err := fixtures.Parse(bytes.NewReader(fixtures.Demo))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.LoadDirectory(ctx, d); err != nil {
		t.Fatal(err)
	}
	actor := func(key string) qun.Actor {
		var a qun.Actor
		err := db.View(ctx, func(tx qun.Tx) error {
			var err error
			if a.App, err = tx.AppByKey(qun.Feishu, 0, key); err != nil {
				return err
			}
			a.Tenant, err = tx.Tenant(a.App.TenantID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	main, helper, store := actor("cli_a10fbf7e94b8d01d"), actor("cli_b20fbf7e94b8d02e"), actor("cli_e50fbf7e94b8d05b")
	v, err := svc.CreateChat(ctx, main, qun.NewChat{Name: "Muted",
		Users: []qun.Ref{{Kind: qun.UserID, Value: "lisi"}}, Bots: []qun.Ref{{Kind: qun.AppID, Value: helper.App.Key}}, Settings: muted()})
	if err != nil {
		t.Fatal(err)
	}
	id := v.Chat.ChatID
	text := qun.NewMessage{Type: "text", Content: `{"text":"x"}`}
	for _, c := range []struct {
		name string
		send func() error
		want qun.Reason
	}{
		{"a member bot", func() error { _, err := svc.SendMessage(ctx, helper, id, text); return err }, qun.ReasonMuted},
		{"a member user", func() error {
			_, err := svc.PostAsUser(ctx, qun.UserPost{ChatID: id, User: "lisi", NewMessage: text})
			return err
		}, qun.ReasonMuted},
		{"the owner bot", func() error { _, err := svc.SendMessage(ctx, main, id, text); return err }, ""},
		{"a user outside the chat", func() error {
			_, err := svc.PostAsUser(ctx, qun.UserPost{ChatID: id, User: "zhangsan", NewMessage: text})
			return err
		}, qun.ReasonNotInChat},
		{"a bot outside the chat", func() error { _, err := svc.SendMessage(ctx, store, id, text); return err }, qun.ReasonNotInChat},
		{"a reply to nothing", func() error {
			_, err := svc.SendMessage(ctx, main, id, qun.NewMessage{Type: "text", Content: `{}`, ReplyTo: "om_nothing"})
			return err
		}, qun.ReasonMessageNotFound},
	} {
		if got := qun.ErrorReason(c.send()); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// Made a manager, the helper speaks; the main app cannot recall it.
	if _, err := svc.SetManagers(ctx, main, id, []qun.Ref{{Kind: qun.AppID, Value: helper.App.Key}}, true, false); err != nil {
		t.Fatal(err)
	}
	m, err := svc.SendMessage(ctx, helper, id, text)
	if err != nil {
		t.Fatalf("a manager bot: %v", err)
	}
	if err := svc.RecallMessage(ctx, main, "", m.MessageID); qun.ErrorReason(err) != qun.ReasonNotSender {
		t.Errorf("recall by another bot: %v", err)
	}
	if err := svc.RecallMessage(ctx, helper, "oc_other", m.MessageID); qun.ErrorReason(err) != qun.ReasonChatNotFound {
		t.Errorf("recall naming an unknown chat: %v", err)
	}
	if _, err := svc.Readers(ctx, main, id, m.MessageID); qun.ErrorReason(err) != qun.ReasonNotSender {
		t.Errorf("read receipts of another bot's message: %v", err)
	}
	if err := svc.RecallMessage(ctx, helper, id, m.MessageID); err != nil {
		t.Fatalf("recall by the sender: %v", err)
	}
	if err := svc.RecallMessage(ctx, helper, id, m.MessageID); qun.ErrorReason(err) != qun.ReasonMessageRecalled {
		t.Errorf("recall twice: %v", err)
	}
	if err := svc.DissolveChat(ctx, main, id); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SendMessage(ctx, helper, id, text); qun.ErrorReason(err) != qun.ReasonChatDissolved {
		t.Errorf("a dissolved chat: %v", err)
	}
}

func muted() qun.Settings {
	s := qun.DefaultSettings()
	s.WhoCanSpeak = qun.Owners
	return s
}
