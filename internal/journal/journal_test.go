package journal

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRingKeepsTheNewest(t *testing.T) {
	r := New(3, 10)
	for i := range 5 {
		r.Add(Entry{Path: fmt.Sprint("/p", i)})
	}
	got := r.List(Filter{}, 10)
	if len(got) != 3 || got[0].Path != "/p4" || got[2].Path != "/p2" || got[0].Seq != 5 {
		t.Fatalf("entries %+v", got)
	}
	if page := r.List(Filter{Before: got[1].Seq}, 10); len(page) != 1 || page[0].Path != "/p2" {
		t.Errorf("before %d: %+v", got[1].Seq, page)
	}
	if n := r.Clear(); n != 3 || len(r.List(Filter{}, 10)) != 0 || r.Count(Filter{}) != 0 {
		t.Errorf("cleared %d", n)
	}
	if s := r.Add(Entry{}); s != 6 {
		t.Errorf("seq after clear %d, want 6 (sequence numbers never repeat)", s)
	}
	var off *Ring
	if off.On() || off.Add(Entry{}) != 0 || off.Count(Filter{}) != 0 || len(off.List(Filter{}, 1)) != 0 || New(0, 1) != nil {
		t.Error("an off journal keeps something")
	}
}

func TestFilter(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	e := Entry{Seq: 7, At: at, Platform: "feishu", App: "cli_a", Tenant: "t1", Method: "POST", Path: "/open-apis/im/v1/chats/oc_1/members",
		Query: "member_id_type=user_id", Status: 400, Code: "232010", Request: `{"id_list":["lisi"]}`, Response: `{"code":232010}`}
	yes, no := true, false
	for _, c := range []struct {
		name string
		f    Filter
		want bool
	}{
		{"none", Filter{}, true},
		{"platform", Filter{Platform: "feishu"}, true},
		{"other platform", Filter{Platform: "wecom"}, false},
		{"app", Filter{App: "cli_a"}, true},
		{"other tenant", Filter{Tenant: "t2"}, false},
		{"method, any case", Filter{Method: "post"}, true},
		{"exact path", Filter{Path: "/open-apis/im/v1/chats/oc_1/members"}, true},
		{"path prefix", Filter{Path: "/open-apis/im/v1/chats/*"}, true},
		{"not the path", Filter{Path: "/open-apis/im/v1/chats"}, false},
		{"status", Filter{Status: 400}, true},
		{"other status", Filter{Status: 200}, false},
		{"code", Filter{Code: "232010"}, true},
		{"chat in the path", Filter{Chat: "oc_1"}, true},
		{"chat named nowhere", Filter{Chat: "oc_2"}, false},
		{"not injected", Filter{Injected: &no}, true},
		{"injected", Filter{Injected: &yes}, false},
		{"before", Filter{Before: 7}, false},
		{"since", Filter{Since: at}, true},
		{"since later", Filter{Since: at.Add(time.Millisecond)}, false},
	} {
		if got := c.f.Matches(e); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRedaction(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"app_id":"cli_a","app_secret":"s3cret"}`, `{"app_id":"cli_a","app_secret":"***"}`},
		{`{"code":0,"tenant_access_token":"t-abc","expire":7200}`, `{"code":0,"tenant_access_token":"***","expire":7200}`},
		{`{"appKey":"k","appSecret" : "x\"y"}`, `{"appKey":"k","appSecret" : "***"}`},
		{`{"accessToken":"a","expireIn":7200}`, `{"accessToken":"***","expireIn":7200}`},
		{`{"name":"secret keeper"}`, `{"name":"secret keeper"}`},
	} {
		if got := RedactJSON(c.in); got != c.want {
			t.Errorf("RedactJSON(%s) = %s", c.in, got)
		}
	}
	if q := RedactQuery("corpid=ww1&corpsecret=s3cret"); strings.Contains(q, "s3cret") || !strings.Contains(q, "corpid=ww1") {
		t.Errorf("query %s", q)
	}
	if q := RedactQuery("chatid=x"); q != "chatid=x" {
		t.Errorf("a query without secrets changed: %s", q)
	}
	r := New(2, 100)
	r.Add(Entry{Query: "access_token=t-XYZ", Request: `{"app_secret":"s"}`})
	if e := r.List(Filter{}, 1)[0]; strings.Contains(e.Query, "t-XYZ") || strings.Contains(e.Request, `"s"`) {
		t.Errorf("listed with secrets: %+v", e)
	}
}
