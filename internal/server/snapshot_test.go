package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/quntest"
)

func export(t *testing.T, srv *quntest.Server) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/admin/v1/snapshot", nil)
	req.Header.Set("Authorization", "Bearer "+quntest.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("export: HTTP %d %s", resp.StatusCode, b)
	}
	return b
}

func restore(t *testing.T, srv *quntest.Server, snap []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/admin/v1/snapshot", bytes.NewReader(snap))
	req.Header.Set("Authorization", "Bearer "+quntest.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 {
		t.Fatalf("restore: HTTP %d %s", resp.StatusCode, b)
	}
}

// TestSnapshotRoundTrip: a deployment's state (the demo directory with
// its subscriptions and links, a chat with members, managers and a
// conversation with mentions, a reply and a recall, a DingTalk group and
// a WeCom app chat) exported, restored into another store (PostgreSQL
// when the run has one, from SQLite) and exported again is the same
// document, byte for byte; the restored node serves the chat to the SDKs.
func TestSnapshotRoundTrip(t *testing.T) {
	var src, dst *quntest.Server
	if pgtest.URL() != "" {
		db := pgtest.Schema(t)
		t.Setenv(pgtest.Env, "")
		src, dst = quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery()), quntest.NewServer(t, quntest.WithDatabase(db), quntest.WithoutEventDelivery())
	} else {
		src, dst = quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery()), quntest.NewServer(t, quntest.WithoutEventDelivery())
	}
	created := feishuCall(t, src, "POST", "/open-apis/im/v1/chats?user_id_type=user_id", `{"name":"快照 Snapshot","user_id_list":["zhangsan","lisi"],"bot_id_list":["cli_b20fbf7e94b8d02e"]}`)
	id := created["data"].(map[string]any)["chat_id"].(string)
	feishuCall(t, src, "POST", "/open-apis/im/v1/chats/"+id+"/managers/add_managers?member_id_type=user_id", `{"manager_ids":["lisi"]}`)
	sent := feishuCall(t, src, "POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", `{"receive_id":"`+id+`","msg_type":"text","content":"{\"text\":\"hello <at user_id=\\\"all\\\">所有人</at>\"}"}`)
	mid := sent["data"].(map[string]any)["message_id"].(string)
	feishuCall(t, src, "POST", "/open-apis/im/v1/messages/"+mid+"/reply", `{"msg_type":"text","content":"{\"text\":\"re\"}","reply_in_thread":true}`)
	posted, err := src.Post(id, "lisi", `{"text":"@_user_1 ping"}`, "cli_b20fbf7e94b8d02e")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Recall(id, "lisi", posted.MessageID); err != nil {
		t.Fatal(err)
	}
	a := export(t, src)
	for _, want := range []string{`"qun_snapshot": 1`, id, mid, `"owner_app": "736588c9260f175e/cli_a10fbf7e94b8d01d"`, `"user": "feishu:736588c9260f175e/lisi"`, `"recalled": true`, `"thread_id": "omt_`, `"events": {`, `"links": [`} {
		if !strings.Contains(string(a), want) {
			t.Errorf("the snapshot lacks %s", want)
		}
	}
	restore(t, dst, a)
	if b := export(t, dst); !bytes.Equal(a, b) {
		t.Fatalf("the second export differs:\n%s", firstDiff(a, b))
	}
	got := feishuCall(t, dst, "GET", "/open-apis/im/v1/chats/"+id+"?user_id_type=user_id", "")
	if d := got["data"].(map[string]any); d["name"] != "快照 Snapshot" || d["bot_count"] != "2" || d["user_count"] != "2" || fmt.Sprint(d["user_manager_id_list"]) != "[lisi]" {
		t.Errorf("the restored chat: %v", d)
	}
	if msgs, err := dst.Messages(id); err != nil || len(msgs) != 3 || msgs[0].MessageID != mid || !msgs[2].Recalled {
		t.Errorf("the restored conversation: %v %+v", err, msgs)
	}
	restore(t, dst, a) // again: a restore replaces, it does not add
	if b := export(t, dst); !bytes.Equal(a, b) {
		t.Fatalf("a second restore changed the state:\n%s", firstDiff(a, b))
	}
	for _, bad := range []string{`{"qun_snapshot":9}`, `not json`, `{"qun_snapshot":1,"chats":[{"chat":{"chat_id":"oc_x","platform":"feishu"},"tenant":"nobody"}]}`} {
		req, _ := http.NewRequest("POST", dst.URL+"/admin/v1/snapshot", strings.NewReader(bad))
		req.Header.Set("Authorization", "Bearer "+quntest.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("restore %s: HTTP %d", bad, resp.StatusCode)
		}
	}
	if b := export(t, dst); !bytes.Equal(a, b) {
		t.Error("a refused restore changed the state")
	}
}

// firstDiff shows where two documents part.
func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return "line " + strconv.Itoa(i+1) + ":\n- " + la[i] + "\n+ " + lb[i]
		}
	}
	return "lengths " + strconv.Itoa(len(la)) + " and " + strconv.Itoa(len(lb))
}
