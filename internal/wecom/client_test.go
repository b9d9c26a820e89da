package wecom_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	workwx "github.com/xen0n/go-workwx"

	"github.com/qunhq/qun/internal/wecom"
	"github.com/qunhq/qun/quntest"
)

// seedArgs are the parameters of the seed document's example, verbatim.
func seedArgs() map[string]any {
	return map[string]any{
		"groupName":       "讨论组",
		"userIds":         []string{"lisi", "lisi2"},
		"openUserIds":     []string{"wabc3", "wbcde"},
		"externalUserIds": []string{"exid1", "exid2"},
		"corpGroupUserIds": []map[string]string{
			{"corpId": "ww3333", "userId": "userid123", "openUserId": "wx1111"},
			{"corpId": "ww4444", "userId": "userid123", "openUserId": "wx1111"},
		},
	}
}

// TestSignatureVector checks the JS-SDK signature against WeCom's own
// documented example.
func TestSignatureVector(t *testing.T) {
	got := wecom.Signature("sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg", "Wm3WZYTPz0wzccnW", "1414587457", "http://mp.weixin.qq.com?params=value")
	if got != "0f9de62fce790f9a083d5c99e95740ceb90c27ed" {
		t.Errorf("Signature = %s", got)
	}
}

// TestMiniProgramSeedExample: login, the backend's jscode2session,
// checkSession, then the seed's example verbatim; the chat holds members
// of three corporations and the initiator's two customers.
func TestMiniProgramSeedExample(t *testing.T) {
	srv := quntest.NewServer(t)
	if r := invoke(t, srv, "miniprogram", "checkSession", zhangsan, nil, nil); r.ErrMsg != "checkSession:fail no session or expired" {
		t.Errorf("checkSession before login: %+v", r)
	}
	login := invoke(t, srv, "miniprogram", "login", zhangsan, map[string]any{}, nil)
	if r := invoke(t, srv, "miniprogram", "checkSession", zhangsan, nil, nil); r.ErrMsg != "checkSession:fail no session or expired" {
		t.Errorf("checkSession before the code is exchanged: %+v", r)
	}
	if _, err := app(srv).JSCode2Session(login.Code); err != nil {
		t.Fatal(err)
	}
	check := invoke(t, srv, "miniprogram", "checkSession", zhangsan, nil, nil)
	if check.ErrMsg != "checkSession:ok" || check.ExpireIn == nil || *check.ExpireIn <= 7000 || *check.ExpireIn > 7200 {
		t.Errorf("checkSession = %+v", check)
	}
	r := invoke(t, srv, "miniprogram", "createCorpGroupChat", zhangsan, seedArgs(), nil)
	if r.ErrMsg != "createCorpGroupChat:ok" || !chatIDShape.MatchString(r.ChatID) {
		t.Fatalf("createCorpGroupChat = %+v", r)
	}
	d := adminChat(t, srv, r.ChatID)
	want := []string{corp + "/zhangsan", corp + "/lisi", corp + "/lisi2", "ww3333/userid123", "ww4444/userid123", corp + "/exid1", corp + "/exid2"}
	if d.Class != "corp_group" || d.Name != "讨论组" || d.Creator != agent || d.Members[0].Role != "owner" || !slices.Equal(d.members(), want) {
		t.Errorf("stored chat = %+v, members %v, want %v", d, d.members(), want)
	}
	// The app's server APIs do not manage members' corp-group chats.
	_, err := app(srv).GetAppchat(r.ChatID)
	wantCode(t, err, 86008)
}

// users returns user001 … user<n>.
func users(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user%03d", i+1)
	}
	return out
}

// signInWith runs login for c and exchanges the code with the given app
// credentials.
func signInWith(t *testing.T, srv *quntest.Server, c client, corpSecret string, agentID int64) {
	t.Helper()
	r := invoke(t, srv, "miniprogram", "login", c, map[string]any{}, nil)
	if r.ErrMsg != "login:ok" {
		t.Fatalf("login %+v: %+v", c, r)
	}
	if _, err := workwx.New(c.Corp, workwx.WithQYAPIHost(srv.URL)).WithApp(corpSecret, agentID).JSCode2Session(r.Code); err != nil {
		t.Fatalf("jscode2session for %+v: %v", c, err)
	}
}

// TestCorpGroupRules runs every rule of the seed through the mini-program
// surface, each case on a fresh demo directory.
func TestCorpGroupRules(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	tooMany := append([]string{}, users(45)...)
	for i := len(tooMany); i < 2000; i++ {
		tooMany = append(tooMany, fmt.Sprintf("ghost%04d", i))
	}
	downA := client{Corp: downstream, User: "userid123", Agent: agent, Version: "4.1.30", Platform: "android"}
	for _, c := range []struct {
		name   string
		client client
		// setup signs in (by default zhangsan in 1000002) and changes the
		// directory.
		setup func(t *testing.T)
		args  map[string]any
		want  string
		// members, when set, are the chat's members after success.
		members []string
		// mutates: the setup changes the directory, which is reset after.
		mutates bool
	}{
		{name: "seed example", args: seedArgs(), want: "ok"},
		// Sessions, like tokens, survive a reset: the time skips past those
		// of earlier cases.
		{name: "not signed in", setup: func(t *testing.T) { clk.Advance(3 * time.Hour) }, args: seedArgs(), want: "fail no session or expired"},
		{name: "code never exchanged", setup: func(t *testing.T) {
			clk.Advance(3 * time.Hour)
			invoke(t, srv, "miniprogram", "login", zhangsan, map[string]any{}, nil)
		}, args: seedArgs(), want: "fail no session or expired"},
		{name: "session expired", setup: func(t *testing.T) {
			signIn(t, srv, zhangsan)
			clk.Advance(2*time.Hour + time.Second)
		}, args: seedArgs(), want: "fail no session or expired"},
		{name: "outside the app's visible range", client: client{Corp: corp, User: initiator, Agent: "1000003", Version: "4.1.30", Platform: "windows"},
			setup: func(t *testing.T) {
				signInWith(t, srv, client{Corp: corp, User: initiator, Agent: "1000003", Version: "4.1.30", Platform: "windows"}, narrowSecret, narrowAgent)
			}, args: seedArgs(), want: "fail no permission"},
		{name: "corp-group chats switched off", client: client{Corp: switchedOff, User: "zhaoliu", Agent: agent, Version: "4.1.30", Platform: "windows"},
			setup: func(t *testing.T) {
				signInWith(t, srv, client{Corp: switchedOff, User: "zhaoliu", Agent: agent, Version: "4.1.30", Platform: "windows"}, "demo-wecom-off-secret", 1000002)
			}, args: map[string]any{"userIds": []string{"sunqi"}}, want: "fail need open corp group chat"},
		{name: "switched off by the admin", setup: func(t *testing.T) {
			signIn(t, srv, zhangsan)
			if err := srv.Admin("PATCH", "/admin/v1/tenants/wecom/"+corp, map[string]any{"policy": map[string]any{"corp_group_chat": false}}, nil); err != nil {
				t.Fatal(err)
			}
		}, args: seedArgs(), want: "fail need open corp group chat", mutates: true},
		{name: "a corporation without links", client: client{Corp: unlinked, User: "qianba", Agent: agent, Version: "4.1.30", Platform: "windows"},
			setup: func(t *testing.T) {
				signInWith(t, srv, client{Corp: unlinked, User: "qianba", Agent: agent, Version: "4.1.30", Platform: "windows"}, "demo-wecom-unlinked-secret", 1000002)
			}, args: map[string]any{"userIds": []string{"userid123"}}, want: "fail need open corp group chat"},
		{name: "2001 people", args: map[string]any{"userIds": tooMany}, want: "fail exceed user id list size"},
		{name: "2000 people counts the initiator", args: map[string]any{"userIds": tooMany[:1999]}, want: "fail invalid parameter"},
		{name: "41 with a WeChat contact", args: map[string]any{"userIds": users(39), "externalUserIds": []string{"exid1"}}, want: "fail exceed external user id list size"},
		{name: "40 with a WeChat contact", args: map[string]any{"userIds": users(38), "externalUserIds": []string{"exid1"}}, want: "ok"},
		{name: "47 with a WeCom contact", args: map[string]any{"userIds": users(45), "externalUserIds": []string{"exid2"}}, want: "ok"},
		{name: "contacts who are not friends are dropped",
			args:    map[string]any{"userIds": []string{"lisi"}, "externalUserIds": []string{"wmStrangerAAAAAAAAAAAAAAAAAAAAAA", "wmNobody"}},
			want:    "ok",
			members: []string{corp + "/zhangsan", corp + "/lisi"}},
		{name: "a dropped WeChat contact does not count toward 40", args: map[string]any{"userIds": users(45), "externalUserIds": []string{"wmStrangerAAAAAAAAAAAAAAAAAAAAAA"}}, want: "ok"},
		{name: "repeats and the initiator collapse",
			args:    map[string]any{"userIds": []string{"lisi", "lisi", initiator}, "corpGroupUserIds": []map[string]string{{"corpId": "ww3333", "userId": "userid123"}, {"corpId": "ww3333", "userId": "userid123"}}},
			want:    "ok",
			members: []string{corp + "/zhangsan", corp + "/lisi", "ww3333/userid123"}},
		{name: "only the initiator", args: map[string]any{"userIds": []string{initiator}}, want: "fail invalid parameter"},
		{name: "only contacts", args: map[string]any{"externalUserIds": []string{"exid1"}}, want: "fail invalid parameter"},
		{name: "a single chat", args: map[string]any{"groupName": "", "userIds": []string{"lisi"}}, want: "ok", members: []string{corp + "/zhangsan", corp + "/lisi"}},
		{name: "self-built apps ignore openUserIds", args: map[string]any{"openUserIds": []string{"wabc3"}}, want: "fail invalid parameter"},
		{name: "an unknown member", args: map[string]any{"userIds": []string{"lisi", "ghost"}}, want: "fail invalid parameter"},
		{name: "a resigned member", args: map[string]any{"userIds": []string{"wangwu"}}, want: "fail invalid parameter"},
		{name: "a resigned member of a linked corporation", args: map[string]any{"corpGroupUserIds": []map[string]string{{"corpId": "ww3333", "userId": "userid124"}}}, want: "fail invalid parameter"},
		{name: "an unlinked corporation", args: map[string]any{"corpGroupUserIds": []map[string]string{{"corpId": unlinked, "userId": "userid123"}}}, want: "fail invalid parameter"},
		{name: "corpGroupUserIds without corpId", args: map[string]any{"corpGroupUserIds": []map[string]string{{"userId": "userid123"}}}, want: "fail invalid parameter"},
		{name: "corpGroupUserIds without an ID", args: map[string]any{"userIds": []string{"lisi"}, "corpGroupUserIds": []map[string]string{{"corpId": "ww3333"}}}, want: "fail invalid parameter"},
		{name: "corpGroupUserIds with only openUserId", args: map[string]any{"userIds": []string{"lisi"}, "corpGroupUserIds": []map[string]string{{"corpId": "ww3333", "openUserId": "wx1111"}}},
			want: "ok", members: []string{corp + "/zhangsan", corp + "/lisi"}},
		{name: "userIds of the wrong type", args: map[string]any{"userIds": "lisi"}, want: "fail invalid parameter"},
		{name: "groupName of the wrong type", args: map[string]any{"groupName": 7, "userIds": []string{"lisi"}}, want: "fail invalid parameter"},
		{name: "an empty ID", args: map[string]any{"userIds": []string{"lisi", ""}}, want: "fail invalid parameter"},
		{name: "client 3.1.7", client: client{Corp: corp, User: initiator, Agent: agent, Version: "3.1.7", Platform: "windows"}, args: seedArgs(), want: "function not exist"},
		{name: "client 3.1.19 cannot reach chains", client: client{Corp: corp, User: initiator, Agent: agent, Version: "3.1.19", Platform: "windows"}, args: seedArgs(), want: "fail invalid parameter"},
		{name: "client 3.1.19 ignores contacts", client: client{Corp: corp, User: initiator, Agent: agent, Version: "3.1.19", Platform: "ios"},
			args:    map[string]any{"userIds": []string{"lisi"}, "externalUserIds": []string{"exid1"}, "corpGroupUserIds": []map[string]string{{"corpId": "ww3333", "userId": "userid123"}}},
			want:    "ok",
			members: []string{corp + "/zhangsan", corp + "/lisi", "ww3333/userid123"}},
		{name: "client 3.1.20", client: client{Corp: corp, User: initiator, Agent: agent, Version: "3.1.20", Platform: "android"}, args: seedArgs(), want: "ok"},
		{name: "macOS", client: client{Corp: corp, User: initiator, Agent: agent, Version: "4.1.30", Platform: "mac"}, args: seedArgs(), want: "function not exist"},
		{name: "Linux", client: client{Corp: corp, User: initiator, Agent: agent, Version: "4.1.30", Platform: "linux"}, args: seedArgs(), want: "function not exist"},
		{name: "downstream to upstream", client: downA, setup: func(t *testing.T) {
			signInWith(t, srv, downA, "demo-wecom-downstream-secret", 1000002)
		}, args: map[string]any{"userIds": []string{}, "corpGroupUserIds": []map[string]string{{"corpId": corp, "userId": "lisi"}}}, want: "ok",
			members: []string{downstream + "/userid123", corp + "/lisi"}},
		{name: "downstream to downstream, not mutually visible", client: downA, setup: func(t *testing.T) {
			signInWith(t, srv, downA, "demo-wecom-downstream-secret", 1000002)
		}, args: map[string]any{"corpGroupUserIds": []map[string]string{{"corpId": downstreamB, "userId": "userid123"}}}, want: "fail invalid parameter"},
		{name: "downstream to downstream, mutually visible", client: downA, setup: func(t *testing.T) {
			signInWith(t, srv, downA, "demo-wecom-downstream-secret", 1000002)
			if err := srv.Admin("PATCH", "/admin/v1/links/wecom/chain-demo", map[string]any{"mutual_visible": true}, nil); err != nil {
				t.Fatal(err)
			}
		}, args: map[string]any{"corpGroupUserIds": []map[string]string{{"corpId": downstreamB, "userId": "userid123"}}}, want: "ok",
			members: []string{downstream + "/userid123", downstreamB + "/userid123"}, mutates: true},
		{name: "upstream to two downstream corporations", args: map[string]any{"corpGroupUserIds": []map[string]string{{"corpId": downstream, "userId": "userid123"}, {"corpId": downstreamB, "userId": "userid123"}}}, want: "ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.mutates {
				t.Cleanup(srv.Reset)
			}
			if c.client.Corp == "" {
				c.client = zhangsan
			}
			if c.setup != nil {
				c.setup(t)
			} else {
				signIn(t, srv, c.client)
			}
			before := chatCount(t, srv)
			r := invoke(t, srv, "miniprogram", "createCorpGroupChat", c.client, c.args, nil)
			if want := "createCorpGroupChat:" + c.want; r.ErrMsg != want {
				t.Fatalf("errMsg = %q, want %q", r.ErrMsg, want)
			}
			if c.want != "ok" {
				if r.ChatID != "" {
					t.Errorf("a failure answered chatId %q", r.ChatID)
				}
				if n := chatCount(t, srv); n != before {
					t.Errorf("a failure stored a chat: %d chats, %d before", n, before)
				}
				return
			}
			d := adminChat(t, srv, r.ChatID)
			if c.members != nil && !slices.Equal(d.members(), c.members) {
				t.Errorf("members %v, want %v", d.members(), c.members)
			}
		})
	}
}

// chatCount counts the WeCom chats the admin API lists.
func chatCount(t *testing.T, srv *quntest.Server) int {
	t.Helper()
	var list struct{ Chats []any }
	if err := srv.Admin("GET", "/admin/v1/chats?platform=wecom", nil, &list); err != nil {
		t.Fatal(err)
	}
	return len(list.Chats)
}

// TestThirdPartyApp: a third-party app names members by open_userid and
// ignores userIds.
func TestThirdPartyApp(t *testing.T) {
	srv := quntest.NewServer(t)
	suite := suiteToken(t, srv)
	lisi := client{Corp: corp, User: "lisi", Suite: suiteID, Version: "4.1.30", Platform: "ios"}
	login := invoke(t, srv, "miniprogram", "login", lisi, map[string]any{}, nil)
	if a := get(t, srv, "/cgi-bin/service/miniprogram/jscode2session", url.Values{"suite_access_token": {suite}, "js_code": {login.Code}}); a.code() != 0 {
		t.Fatal(a)
	}
	var dir struct {
		Users []struct {
			Tenant  string
			UserID  string `json:"user_id"`
			Aliases []struct{ Value string }
		}
	}
	if err := srv.Admin("GET", "/admin/v1/users?platform=wecom", nil, &dir); err != nil {
		t.Fatal(err)
	}
	open := map[string]string{}
	for _, u := range dir.Users {
		if len(u.Aliases) > 0 {
			open[u.Tenant+"/"+u.UserID] = u.Aliases[0].Value
		}
	}
	if r := invoke(t, srv, "miniprogram", "createCorpGroupChat", lisi, map[string]any{"userIds": []string{"lisi2"}}, nil); r.ErrMsg != "createCorpGroupChat:fail invalid parameter" {
		t.Errorf("userIds from a third-party app: %+v", r)
	}
	r := invoke(t, srv, "miniprogram", "createCorpGroupChat", lisi, map[string]any{
		"groupName":        "服务商群",
		"userIds":          []string{"zhangsan"},
		"openUserIds":      []string{open[corp+"/lisi2"]},
		"corpGroupUserIds": []map[string]string{{"corpId": "ww3333", "userId": "ignored", "openUserId": open["ww3333/userid123"]}},
	}, nil)
	if r.ErrMsg != "createCorpGroupChat:ok" {
		t.Fatalf("createCorpGroupChat = %+v", r)
	}
	if got, want := adminChat(t, srv, r.ChatID).members(), []string{corp + "/lisi", corp + "/lisi2", "ww3333/userid123"}; !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
}

// sign computes a JS-SDK signature independently of the package.
func sign(ticket, nonce, ts, page string) string {
	sum := sha1.Sum([]byte("jsapi_ticket=" + ticket + "&noncestr=" + nonce + "&timestamp=" + ts + "&url=" + page))
	return hex.EncodeToString(sum[:])
}

// TestBridge drives WeixinJSBridge's protocol as @wecom/jssdk speaks it:
// agentConfig with a real signature check, then createCorpGroupChat with
// the verify parameters merged in.
func TestBridge(t *testing.T) {
	srv := quntest.NewServer(t)
	ticket, err := app(srv).GetJSAPITicketAgentConfig()
	if err != nil {
		t.Fatal(err)
	}
	const page = "https://app.example.com/page?x=1"
	sig := sign(ticket, "abc", "1700000000", page)
	config := map[string]any{"corpid": corp, "agentid": agent, "timestamp": "1700000000", "nonceStr": "abc", "signature": sig, "jsApiList": []string{"createCorpGroupChat"}}
	r := invoke(t, srv, "jsbridge", "agentConfig", zhangsan, config, nil)
	if r.ErrMsg != "agentConfig:ok" || !r.CheckResult["createCorpGroupChat"] {
		t.Fatalf("agentConfig = %+v", r)
	}
	for _, c := range []struct {
		change map[string]any
		want   string
	}{
		{map[string]any{"signature": strings.Repeat("0", 40)}, "agentConfig:fail invalid signature"},
		{map[string]any{"nonceStr": "abd"}, "agentConfig:fail invalid signature"},
		{map[string]any{"corpid": "ww3333"}, "agentConfig:fail invalid corpid"},
		{map[string]any{"agentid": "1000999"}, "agentConfig:fail invalid agentid"},
		{map[string]any{"agentid": "1000003"}, "agentConfig:fail invalid signature"}, // another app's ticket
	} {
		bad := map[string]any{}
		for k, v := range config {
			bad[k] = v
		}
		for k, v := range c.change {
			bad[k] = v
		}
		if r := invoke(t, srv, "jsbridge", "agentConfig", zhangsan, bad, nil); r.ErrMsg != c.want {
			t.Errorf("agentConfig with %v = %q, want %q", c.change, r.ErrMsg, c.want)
		}
	}

	verified := func(sig string) map[string]any {
		args := seedArgs()
		for k, v := range map[string]any{"appId": corp, "verifyAppId": corp, "verifySignType": "sha1", "verifyTimestamp": "1700000000", "verifyNonceStr": "abc", "verifySignature": sig} {
			args[k] = v
		}
		return args
	}
	r = invoke(t, srv, "jsbridge", "createCorpGroupChat", zhangsan, verified(sig), map[string]any{"agent": agent})
	if r.ErrMsg != "createCorpGroupChat:ok" || !chatIDShape.MatchString(r.ChatID) {
		t.Fatalf("createCorpGroupChat = %+v", r)
	}
	if n := len(adminChat(t, srv, r.ChatID).Members); n != 7 {
		t.Errorf("%d members, want 7", n)
	}
	for _, c := range []struct {
		name  string
		args  map[string]any
		extra map[string]any
	}{
		{"forged signature", verified(strings.Repeat("f", 40)), map[string]any{"agent": agent}},
		{"no agentConfig", verified(sig), nil},
		{"no verify parameters", seedArgs(), map[string]any{"agent": agent}},
		{"another page", verified(sign(ticket, "abc", "1700000000", "https://evil.example.com/")), map[string]any{"agent": agent}},
	} {
		if r := invoke(t, srv, "jsbridge", "createCorpGroupChat", zhangsan, c.args, c.extra); r.ErrMsg != "createCorpGroupChat:fail no permission" {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
	old := zhangsan
	old.Version = "3.0.36"
	if r := invoke(t, srv, "jsbridge", "createCorpGroupChat", old, verified(sig), map[string]any{"agent": agent}); r.ErrMsg != "createCorpGroupChat:function not exist" {
		t.Errorf("old client: %+v", r)
	}
	if r := invoke(t, srv, "jsbridge", "openEnterpriseChat", zhangsan, map[string]any{}, nil); r.ErrMsg != "openEnterpriseChat:function not exist" {
		t.Errorf("unknown API: %+v", r)
	}
}
