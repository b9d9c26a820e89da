package wecom_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	workwx "github.com/xen0n/go-workwx"

	"github.com/qunhq/qun/quntest"
)

var (
	errmsgShape = regexp.MustCompile(`^[^,]+(, [^,]+)*, hint: \[\d+_\d+_[0-9a-f]{32}\], from ip: [0-9a-f.:]+, more info at https://open\.work\.weixin\.qq\.com/devtool/query\?e=-?\d+$`)
	chatIDShape = regexp.MustCompile(`^wr[0-9A-Za-z]{28}$`)
)

func itoa(n int) string { return strconv.Itoa(n) }

// TestGetToken: corpid + corpsecret of a self-built app give its token, the
// same one while it is valid; unknown corps, wrong secrets and missing
// parameters get WeCom's errcodes; unknown parameters are ignored.
func TestGetToken(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	q := url.Values{"corpid": {corp}, "corpsecret": {secret}, "neededText": {""}, "appid": {"x"}}
	first := get(t, srv, "/cgi-bin/gettoken", q)
	if tok := first.str("access_token"); len(tok) < 32 || first["expires_in"] != 7200.0 {
		t.Fatalf("gettoken = %v", first)
	}
	clk.Advance(time.Hour)
	again := get(t, srv, "/cgi-bin/gettoken", q)
	if again.str("access_token") != first.str("access_token") || again["expires_in"] != 3600.0 {
		t.Errorf("within its lifetime gettoken = %v, want the same token with 3600 s left", again)
	}
	clk.Advance(time.Hour)
	if fresh := get(t, srv, "/cgi-bin/gettoken", q); fresh.str("access_token") == first.str("access_token") || fresh["expires_in"] != 7200.0 {
		t.Errorf("after expiry gettoken = %v, want a new token", fresh)
	}

	for _, c := range []struct {
		q    url.Values
		code int
	}{
		{url.Values{"corpsecret": {secret}}, 41002},
		{url.Values{"corpid": {corp}}, 41004},
		{url.Values{"corpid": {"wwffffffffffffffff"}, "corpsecret": {secret}}, 40013},
		{url.Values{"corpid": {corp}, "corpsecret": {"wrong"}}, 40001},
		{url.Values{"corpid": {downstream}, "corpsecret": {secret}}, 40001}, // another corp's secret
		{url.Values{"corpid": {corp}, "corpsecret": {suiteSecret}}, 40001},  // a suite secret is no corpsecret
		{url.Values{"corpid": {corp}, "corpsecret": {"demo-wecom-off-secret"}}, 40001},
	} {
		if a := get(t, srv, "/cgi-bin/gettoken", c.q); a.code() != c.code || a.str("access_token") != "" {
			t.Errorf("gettoken %v = %v, want %d", c.q, a, c.code)
		}
	}

	// go-workwx fetches the token on its first call and reports the error.
	bad := workwx.New(corp, workwx.WithQYAPIHost(srv.URL)).WithApp("wrong", agentID)
	_, err := bad.GetJSAPITicket()
	wantCode(t, err, 40001)
}

// TestAccessTokenChecks: every API that takes access_token refuses a
// missing, unknown, expired or wrong-kind one.
func TestAccessTokenChecks(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	tok := token(t, srv, corp, secret)
	suite := suiteToken(t, srv)
	for _, path := range []string{"/cgi-bin/get_jsapi_ticket", "/cgi-bin/ticket/get", "/cgi-bin/miniprogram/jscode2session", "/cgi-bin/appchat/get", "/cgi-bin/appchat/create", "/cgi-bin/appchat/update"} {
		call := func(q url.Values) answer {
			if strings.Contains(path, "create") || strings.Contains(path, "update") {
				return post(t, srv, path, q, `{}`)
			}
			return get(t, srv, path, q)
		}
		for _, c := range []struct {
			q    url.Values
			code int
		}{
			{url.Values{}, 41001},
			{url.Values{"access_token": {"nope"}}, 40014},
			{url.Values{"access_token": {suite}}, 40014},
		} {
			if a := call(c.q); a.code() != c.code {
				t.Errorf("%s %v = %v, want %d", path, c.q, a, c.code)
			}
		}
	}
	clk.Advance(2*time.Hour + time.Second)
	if a := get(t, srv, "/cgi-bin/get_jsapi_ticket", url.Values{"access_token": {tok}}); a.code() != 42001 {
		t.Errorf("expired token: %v, want 42001", a)
	}
}

// TestTickets: both JS-SDK tickets through go-workwx, stable while valid,
// distinct from each other; ticket/get needs type=agent_config.
func TestTickets(t *testing.T) {
	srv := quntest.NewServer(t)
	a := app(srv)
	corpTicket, err := a.GetJSAPITicket()
	if err != nil {
		t.Fatal(err)
	}
	agentTicket, err := a.GetJSAPITicketAgentConfig()
	if err != nil {
		t.Fatal(err)
	}
	if corpTicket == "" || agentTicket == "" || corpTicket == agentTicket {
		t.Fatalf("tickets %q and %q", corpTicket, agentTicket)
	}
	tok := token(t, srv, corp, secret)
	if again := get(t, srv, "/cgi-bin/get_jsapi_ticket", url.Values{"access_token": {tok}}); again.str("ticket") != corpTicket || again["expires_in"].(float64) > 7200 {
		t.Errorf("get_jsapi_ticket again = %v, want %s", again, corpTicket)
	}
	if again := get(t, srv, "/cgi-bin/ticket/get", url.Values{"access_token": {tok}, "type": {"agent_config"}}); again.str("ticket") != agentTicket {
		t.Errorf("ticket/get again = %v, want %s", again, agentTicket)
	}
	for _, typ := range []string{"", "wx_card"} {
		if a := get(t, srv, "/cgi-bin/ticket/get", url.Values{"access_token": {tok}, "type": {typ}}); a.code() != 40058 {
			t.Errorf("ticket/get type %q = %v, want 40058", typ, a)
		}
	}
}

// TestJSCode2Session: a wx.qy.login code is exchanged once, within five
// minutes, by the app it was issued for; the answer names the member.
func TestJSCode2Session(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	a := app(srv)
	login := func(c client) string {
		r := invoke(t, srv, "miniprogram", "login", c, map[string]any{}, nil)
		if r.ErrMsg != "login:ok" || len(r.Code) < 16 {
			t.Fatalf("login: %+v", r)
		}
		return r.Code
	}
	code := login(zhangsan)
	s, err := a.JSCode2Session(code)
	if err != nil {
		t.Fatal(err)
	}
	if s.CorpID != corp || s.UserID != initiator || len(s.SessionKey) != 24 {
		t.Errorf("session = %+v", s)
	}
	_, err = a.JSCode2Session(code)
	wantCode(t, err, 40029) // used

	stale := login(zhangsan)
	clk.Advance(5*time.Minute + time.Second)
	_, err = a.JSCode2Session(stale)
	wantCode(t, err, 40029) // expired

	_, err = a.JSCode2Session("not-a-code")
	wantCode(t, err, 40029)

	// A code of the same agentid in another corporation is not this app's.
	other := login(client{Corp: downstream, User: "userid123", Agent: agent, Version: "4.1.30", Platform: "ios"})
	_, err = a.JSCode2Session(other)
	wantCode(t, err, 40029)
	// Nor is a code of another app of the corporation.
	narrow := login(client{Corp: corp, User: "lisi", Agent: "1000003", Version: "4.1.30", Platform: "ios"})
	_, err = a.JSCode2Session(narrow)
	wantCode(t, err, 40029)
	n, err := workwx.New(corp, workwx.WithQYAPIHost(srv.URL)).WithApp(narrowSecret, narrowAgent).JSCode2Session(narrow)
	if err != nil || n.UserID != "lisi" {
		t.Errorf("the narrow app's own code: %+v, %v", n, err)
	}

	tok := token(t, srv, corp, secret)
	if r := get(t, srv, "/cgi-bin/miniprogram/jscode2session", url.Values{"access_token": {tok}, "grant_type": {"authorization_code"}}); r.code() != 41008 {
		t.Errorf("no js_code: %v, want 41008", r)
	}
	// The wire answer carries deviceid as WeCom's does.
	r := get(t, srv, "/cgi-bin/miniprogram/jscode2session", url.Values{"access_token": {tok}, "js_code": {login(zhangsan)}, "grant_type": {"authorization_code"}})
	if _, ok := r["deviceid"]; !ok || r.str("userid") != initiator || r["open_userid"] != nil {
		t.Errorf("jscode2session answer = %v", r)
	}
}

// TestSuite: a third-party app's suite token and its jscode2session, which
// adds the member's open_userid.
func TestSuite(t *testing.T) {
	srv := quntest.NewServer(t)
	suite := suiteToken(t, srv)
	if again := suiteToken(t, srv); again != suite {
		t.Errorf("suite token changed within its lifetime: %s, %s", suite, again)
	}
	for _, c := range []struct {
		body string
		code int
	}{
		{`{"suite_secret":"s","suite_ticket":"t"}`, 41021},
		{`{"suite_id":"` + suiteID + `","suite_ticket":"t"}`, 41024},
		{`{"suite_id":"` + suiteID + `","suite_secret":"` + suiteSecret + `"}`, 41023},
		{`{"suite_id":"wwnope","suite_secret":"s","suite_ticket":"t"}`, 40083},
		{`{"suite_id":"` + agent + `","suite_secret":"` + secret + `","suite_ticket":"t"}`, 40083}, // a self-built app is no suite
		{`{"suite_id":"` + suiteID + `","suite_secret":"wrong","suite_ticket":"t"}`, 40001},
		{`{"suite_id":`, 47001},
		{`{"suite_id":1}`, 47001},
	} {
		if a := post(t, srv, "/cgi-bin/service/get_suite_token", nil, c.body); a.code() != c.code {
			t.Errorf("get_suite_token %s = %v, want %d", c.body, a, c.code)
		}
	}

	c := client{Corp: corp, User: "lisi", Suite: suiteID, Version: "4.1.30", Platform: "android"}
	r := invoke(t, srv, "miniprogram", "login", c, map[string]any{}, nil)
	a := get(t, srv, "/cgi-bin/service/miniprogram/jscode2session", url.Values{"suite_access_token": {suite}, "js_code": {r.Code}, "grant_type": {"authorization_code"}})
	open := a.str("open_userid")
	if a.code() != 0 || a.str("corpid") != corp || !strings.HasPrefix(open, "wo") || len(open) != 32 || a.str("session_key") == "" {
		t.Fatalf("service jscode2session = %v", a)
	}
	var users struct {
		Users []struct {
			UserID  string `json:"user_id"`
			Aliases []struct{ Kind, Value string }
		}
	}
	if err := srv.Admin("GET", "/admin/v1/users?platform=wecom&tenant="+corp, nil, &users); err != nil {
		t.Fatal(err)
	}
	for _, u := range users.Users {
		if u.UserID == "lisi" && (len(u.Aliases) != 1 || u.Aliases[0].Value != open) {
			t.Errorf("lisi's aliases %+v, jscode2session said %s", u.Aliases, open)
		}
	}
	for _, c := range []struct {
		q    url.Values
		code int
	}{
		{url.Values{"js_code": {"x"}}, 41022},
		{url.Values{"suite_access_token": {"nope"}, "js_code": {"x"}}, 40082},
		{url.Values{"suite_access_token": {token(t, srv, corp, secret)}, "js_code": {"x"}}, 40082},
		{url.Values{"suite_access_token": {suite}, "js_code": {r.Code}}, 40029},
	} {
		if a := get(t, srv, "/cgi-bin/service/miniprogram/jscode2session", c.q); a.code() != c.code {
			t.Errorf("service jscode2session %v = %v, want %d", c.q, a, c.code)
		}
	}
}

// TestAppchat creates, reads and changes an app chat through go-workwx and
// plain HTTP (go-workwx has no appchat/update).
func TestAppchat(t *testing.T) {
	srv := quntest.NewServer(t)
	a := app(srv)
	long := strings.Repeat("群", 60)
	id, err := a.CreateAppchat(&workwx.ChatInfo{Name: long, MemberUserIDs: []string{"lisi", "lisi2", "user001"}})
	if err != nil {
		t.Fatal(err)
	}
	if !chatIDShape.MatchString(id) {
		t.Errorf("generated chatid %q", id)
	}
	info, err := a.GetAppchat(id)
	if err != nil {
		t.Fatal(err)
	}
	// The owner defaults to the first member; the name is cut to 50.
	if info.ChatID != id || info.OwnerUserID != "lisi" || info.Name != strings.Repeat("群", 50) || !slices.Equal(info.MemberUserIDs, []string{"lisi", "lisi2", "user001"}) {
		t.Errorf("appchat/get = %+v", info)
	}

	mine, err := a.CreateAppchat(&workwx.ChatInfo{ChatID: "Team42", Name: "周会", OwnerUserID: "lisi2", MemberUserIDs: []string{"lisi", "lisi2"}})
	if err != nil || mine != "Team42" {
		t.Fatalf("create with a chatid: %q, %v", mine, err)
	}
	_, err = a.CreateAppchat(&workwx.ChatInfo{ChatID: "Team42", MemberUserIDs: []string{"lisi", "lisi2"}})
	wantCode(t, err, 86215)

	tok := token(t, srv, corp, secret)
	q := url.Values{"access_token": {tok}}
	raw := get(t, srv, "/cgi-bin/appchat/get", url.Values{"access_token": {tok}, "chatid": {"Team42"}})
	info2, _ := raw["chat_info"].(map[string]any)
	if info2["owner"] != "lisi2" || info2["chat_type"] != 0.0 {
		t.Errorf("chat_info = %v", raw)
	}

	// Update: add user002 and make them owner, remove lisi2 (the old
	// owner), rename — in one call.
	if u := post(t, srv, "/cgi-bin/appchat/update", q, `{"chatid":"Team42","name":"新周会","owner":"user002","add_user_list":["user002"],"del_user_list":["lisi2"]}`); u.code() != 0 {
		t.Fatalf("update = %v", u)
	}
	got, err := a.GetAppchat("Team42")
	if err != nil || got.Name != "新周会" || got.OwnerUserID != "user002" || !slices.Equal(got.MemberUserIDs, []string{"lisi", "user002"}) {
		t.Errorf("after update: %+v, %v", got, err)
	}
	d := adminChat(t, srv, "Team42")
	if d.Class != "internal" || d.Creator != agent || d.Tenant != corp {
		t.Errorf("admin view = %+v", d)
	}

	for _, c := range []struct {
		body string
		code int
	}{
		{`{"name":"x"}`, 86201},
		{`{"chatid":"bad-id!"}`, 86001},
		{`{"chatid":"Nope123"}`, 86003},
		{`{"chatid":"Team42","del_user_list":["user002"]}`, 86203}, // the owner, without a new one
		{`{"chatid":"Team42","del_user_list":["lisi2"]}`, 86216},   // not in the chat
		{`{"chatid":"Team42","add_user_list":["ghost"]}`, 86216},   // no such member
		{`{"chatid":"Team42","add_user_list":["wangwu"]}`, 86216},  // resigned
		{`{"chatid":"Team42","owner":"user003"}`, 86005},           // not a member
		{`{"chatid":"Team42","add_user_list":"lisi"}`, 47001},      // wrong type
		{`{"chatid":"Team42","add_user_list":[""]}`, 86216},
	} {
		if u := post(t, srv, "/cgi-bin/appchat/update", q, c.body); u.code() != c.code {
			t.Errorf("update %s = %v, want %d", c.body, u, c.code)
		}
	}
	if got, _ := a.GetAppchat("Team42"); !slices.Equal(got.MemberUserIDs, []string{"lisi", "user002"}) {
		t.Errorf("failed updates changed the chat: %+v", got)
	}

	many := make([]string, 2001)
	for i := range many {
		many[i] = fmt.Sprintf("u%04d", i)
	}
	for _, c := range []struct {
		info workwx.ChatInfo
		code int
	}{
		{workwx.ChatInfo{MemberUserIDs: nil}, 86204},
		{workwx.ChatInfo{MemberUserIDs: []string{"lisi"}}, 86006},
		{workwx.ChatInfo{MemberUserIDs: many}, 86006},
		{workwx.ChatInfo{ChatID: strings.Repeat("a", 33), MemberUserIDs: []string{"lisi", "lisi2"}}, 86205},
		{workwx.ChatInfo{ChatID: "有中文", MemberUserIDs: []string{"lisi", "lisi2"}}, 86001},
		{workwx.ChatInfo{OwnerUserID: "user001", MemberUserIDs: []string{"lisi", "lisi2"}}, 86207},
		{workwx.ChatInfo{MemberUserIDs: []string{"lisi", "ghost"}}, 86216},
		{workwx.ChatInfo{MemberUserIDs: []string{"lisi", "wangwu"}}, 86216}, // resigned
		{workwx.ChatInfo{MemberUserIDs: []string{"lisi", "exid1"}}, 86216},  // an external contact
		{workwx.ChatInfo{OwnerUserID: "wangwu", MemberUserIDs: []string{"wangwu", "lisi"}}, 86005},
		{workwx.ChatInfo{MemberUserIDs: []string{"lisi", "userid123"}}, 86216}, // another corp's member
	} {
		_, err := a.CreateAppchat(&c.info)
		wantCode(t, err, c.code)
	}

	// Names with a word the corporation blocks.
	if err := srv.Admin("PATCH", "/admin/v1/tenants/wecom/"+corp, map[string]any{"policy": map[string]any{"blocked_words": []string{"违禁"}}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = a.CreateAppchat(&workwx.ChatInfo{Name: "违禁群", MemberUserIDs: []string{"lisi", "lisi2"}})
	wantCode(t, err, 86004)

	// Apps whose visible range is not the whole corporation may not.
	_, err = workwx.New(corp, workwx.WithQYAPIHost(srv.URL)).WithApp(narrowSecret, narrowAgent).CreateAppchat(&workwx.ChatInfo{MemberUserIDs: []string{"lisi", "lisi2"}})
	wantCode(t, err, 60011)

	// Another app, even of the same corporation, does not manage the chat;
	// another corporation's app does not see it.
	var other struct{ Key string }
	if err := srv.Admin("POST", "/admin/v1/apps", map[string]any{"platform": "wecom", "tenant": corp, "key": "1000009", "secret": "s9"}, &other); err != nil {
		t.Fatal(err)
	}
	_, err = workwx.New(corp, workwx.WithQYAPIHost(srv.URL)).WithApp("s9", 1000009).GetAppchat("Team42")
	wantCode(t, err, 86008)
	_, err = workwx.New(downstream, workwx.WithQYAPIHost(srv.URL)).WithApp("demo-wecom-downstream-secret", agentID).GetAppchat("Team42")
	wantCode(t, err, 86008)
	for _, c := range []struct {
		id   string
		code int
	}{{"", 86201}, {"a-b", 86001}, {"Missing", 86003}} {
		if g := get(t, srv, "/cgi-bin/appchat/get", url.Values{"access_token": {tok}, "chatid": {c.id}}); g.code() != c.code {
			t.Errorf("get %q = %v, want %d", c.id, g, c.code)
		}
	}
}

// TestRequestShape: POST APIs called with GET miss their body (40058), bodies
// that are not JSON or have wrong types are 47001, unknown APIs 48002.
func TestRequestShape(t *testing.T) {
	srv := quntest.NewServer(t)
	q := url.Values{"access_token": {token(t, srv, corp, secret)}}
	if a := get(t, srv, "/cgi-bin/appchat/create", q); a.code() != 40058 {
		t.Errorf("GET appchat/create = %v, want 40058", a)
	}
	for _, body := range []string{`{`, `[1]`, `{"userlist":"lisi"}`, `{"name":1}`, `{} {}`} {
		if a := post(t, srv, "/cgi-bin/appchat/create", q, body); a.code() != 47001 {
			t.Errorf("create %s = %v, want 47001", body, a)
		}
	}
	big := `{"userlist":["` + strings.Repeat("x", 3<<20) + `"]}`
	if a := post(t, srv, "/cgi-bin/appchat/create", q, big); a.code() != 47001 {
		t.Errorf("a 3 MiB body = %v, want 47001", a)
	}
	if a := get(t, srv, "/cgi-bin/user/get", q); a.code() != 48002 {
		t.Errorf("unknown API = %v, want 48002", a)
	}
	resp, err := http.Get(srv.URL + "/cgi-bin/gettoken?corpid=" + corp + "&corpsecret=" + secret)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Error-Code") != "0" || resp.Header.Get("Error-Msg") != "ok" {
		t.Errorf("success headers %v", resp.Header)
	}
}

// TestRateLimit: an API refuses calls over the corporation's limit with
// 45009, and other corporations are not affected.
func TestRateLimit(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithRateLimits(quntest.WeCom, quntest.Limit{N: 3, Per: time.Minute}))
	q := url.Values{"access_token": {token(t, srv, corp, secret)}}
	for i := range 3 {
		if a := get(t, srv, "/cgi-bin/get_jsapi_ticket", q); a.code() != 0 {
			t.Fatalf("call %d: %v", i, a)
		}
	}
	if a := get(t, srv, "/cgi-bin/get_jsapi_ticket", q); a.code() != 45009 {
		t.Errorf("fourth call = %v, want 45009", a)
	}
	if a := get(t, srv, "/cgi-bin/ticket/get", url.Values{"access_token": q["access_token"], "type": {"agent_config"}}); a.code() != 0 {
		t.Errorf("another API = %v", a)
	}
	other := url.Values{"access_token": {token(t, srv, downstream, "demo-wecom-downstream-secret")}}
	if a := get(t, srv, "/cgi-bin/get_jsapi_ticket", other); a.code() != 0 {
		t.Errorf("another corporation = %v", a)
	}
}

// TestRateLimiterDown: when the shared limiter (Redis) does not answer, a
// call it must count is refused with WeCom's "system busy" (-1), not let
// through: limits fail closed.
func TestRateLimiterDown(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithRedis("redis://127.0.0.1:1/0"))
	q := url.Values{"access_token": {token(t, srv, corp, secret)}}
	if a := get(t, srv, "/cgi-bin/get_jsapi_ticket", q); a.code() != -1 {
		t.Errorf("with the limiter down = %v, want -1", a)
	}
}
