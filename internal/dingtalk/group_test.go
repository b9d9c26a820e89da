package dingtalk_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	im "github.com/alibabacloud-go/dingtalk/im_1_0"
	oauth2 "github.com/alibabacloud-go/dingtalk/oauth2_1_0"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/qunhq/qun/quntest"
)

var (
	chatIDPattern = regexp.MustCompile(`^chat[0-9a-f]{32}$`)
	cidPattern    = regexp.MustCompile(`^cid[A-Za-z0-9+/]{22}==$`)
)

// TestCreateGroupSeedExample sends the document's request example verbatim
// through the official SDK, then finds the same chat in the core.
func TestCreateGroupSeedExample(t *testing.T) {
	srv := quntest.NewServer(t)
	resp, err := newClient(t, srv, appKey).create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	b := resp.Body
	if tea.Int32Value(resp.StatusCode) != 200 || tea.Int64Value(b.ConversationTag) != 2 ||
		!chatIDPattern.MatchString(tea.StringValue(b.Chatid)) || !cidPattern.MatchString(tea.StringValue(b.OpenConversationId)) {
		t.Fatalf("answer: %d %+v", tea.Int32Value(resp.StatusCode), b)
	}
	if resp.Headers["x-acs-request-id"] == nil {
		t.Error("no x-acs-request-id header")
	}

	// One core, one chat: the admin API shows it with its settings mapped.
	c := chat(t, srv, tea.StringValue(b.Chatid))
	s := c.Settings
	if c.Platform != "dingtalk" || c.Tenant != corpID || c.Class != "internal" || c.Name != "Test Group" || c.Avatar != "@mediaId" ||
		c.ConversationID != tea.StringValue(b.OpenConversationId) || c.Creator != appKey ||
		s.Visibility != "private" || s.HistoryVisible || s.ApprovalRequired || s.WhoCanMentionAll != "everyone" || s.WhoCanSpeak != "everyone" || s.WhoCanEdit != "everyone" {
		t.Errorf("admin view = %+v", c)
	}
	roles := c.roles()
	if len(roles) != 3 || roles[seedOwner] != "owner" || roles[seedMember] != "member" || roles[seedExternal] != "member" {
		t.Errorf("members = %v, want the owner, the member and the external contact (and no app)", roles)
	}
}

// TestCreateGroupOptions maps every management option set to 1, and a
// standard group from an allowlisted app.
func TestCreateGroupOptions(t *testing.T) {
	srv := quntest.NewServer(t)
	req := seedRequest()
	one := tea.Int32(1)
	req.ManagementOptions = &im.CreateGroupRequestManagementOptions{MentionAllAuthority: one, ShowHistoryType: one, ValidationType: one, Searchable: one, ChatBannedType: one, ManagementType: one}
	req.ConversationTag = tea.Int64(0)
	req.Name = tea.String("群") // searchable groups may have one-character names
	resp, err := newClient(t, srv, standardApp).create(req)
	if err != nil {
		t.Fatal(err)
	}
	if tea.Int64Value(resp.Body.ConversationTag) != 0 {
		t.Errorf("conversationTag = %d, want 0", tea.Int64Value(resp.Body.ConversationTag))
	}
	c := chat(t, srv, tea.StringValue(resp.Body.Chatid))
	s := c.Settings
	if c.Class != "standard" || s.Visibility != "public" || !s.HistoryVisible || !s.ApprovalRequired || s.WhoCanMentionAll != "owners" || s.WhoCanSpeak != "owners" || s.WhoCanEdit != "owners" {
		t.Errorf("settings = %+v, class %s", s, c.Class)
	}
	// Without managementOptions and conversationTag: an internal group with
	// the defaults; an external owner (ownerType ext) is allowed.
	resp, err = newClient(t, srv, appKey).create(&im.CreateGroupRequest{Name: tea.String("Minimal"), Owner: tea.String("ext002"), OwnerType: tea.String("ext"), Useridlist: tea.StringSlice([]string{"lisi"})})
	if err != nil {
		t.Fatal(err)
	}
	if c := chat(t, srv, tea.StringValue(resp.Body.Chatid)); c.Class != "internal" || c.roles()["ext002"] != "owner" || c.Settings.Visibility != "private" {
		t.Errorf("minimal group = %+v", c)
	}
}

func TestCreateGroupErrors(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	demo := newClient(t, srv, appKey)
	with := func(f func(r *im.CreateGroupRequest)) *im.CreateGroupRequest {
		r := seedRequest()
		f(r)
		return r
	}
	invalid := "Invalid input parameter"
	for _, c := range []struct {
		name    string
		cli     client
		req     *im.CreateGroupRequest
		status  int
		code    string
		message string
	}{
		{"no name", demo, with(func(r *im.CreateGroupRequest) { r.Name = nil }), 400, "parameter.invalid", invalid},
		{"empty name", demo, with(func(r *im.CreateGroupRequest) { r.Name = tea.String("") }), 400, "parameter.invalid", invalid},
		{"21-character name", demo, with(func(r *im.CreateGroupRequest) { r.Name = tea.String(strings.Repeat("群", 21)) }), 400, "parameter.invalid", invalid},
		{"no owner", demo, with(func(r *im.CreateGroupRequest) { r.Owner = nil }), 400, "parameter.invalid", invalid},
		{"no useridlist", demo, with(func(r *im.CreateGroupRequest) { r.Useridlist = nil }), 400, "parameter.invalid", invalid},
		{"unknown member", demo, with(func(r *im.CreateGroupRequest) { r.Useridlist = tea.StringSlice([]string{"nobody"}) }), 400, "parameter.invalid", invalid},
		{"resigned member", demo, with(func(r *im.CreateGroupRequest) { r.Useridlist = tea.StringSlice([]string{"wangwu"}) }), 400, "parameter.invalid", invalid},
		{"unknown owner", demo, with(func(r *im.CreateGroupRequest) { r.Owner = tea.String("nobody") }), 400, "parameter.invalid", invalid},
		{"external contact as an employee", demo, with(func(r *im.CreateGroupRequest) { r.Owner = tea.String("unionId") }), 400, "parameter.invalid", invalid},
		{"unknown external contact", demo, with(func(r *im.CreateGroupRequest) { r.Extidlist = tea.StringSlice([]string{"nobody"}) }), 400, "parameter.invalid", invalid},
		{"bad ownerType", demo, with(func(r *im.CreateGroupRequest) { r.OwnerType = tea.String("boss") }), 400, "parameter.invalid", invalid},
		{"conversationTag 1", demo, with(func(r *im.CreateGroupRequest) { r.ConversationTag = tea.Int64(1) }), 400, "parameter.invalid", invalid},
		{"option 2", demo, with(func(r *im.CreateGroupRequest) { r.ManagementOptions.Searchable = tea.Int32(2) }), 400, "parameter.invalid", invalid},
		{"standard group, not allowlisted", demo, with(func(r *im.CreateGroupRequest) { r.ConversationTag = tea.Int64(0) }), 400, "permession.checkFailed", "Permission check failed"},
		{"owner outside the visible range", newClient(t, srv, narrowApp), seedRequest(), 400, "permession.checkFailed", "The group owner is not within the app visibility scope"},
		{"no permission", newClient(t, srv, readerApp), seedRequest(), 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "没有调用该接口的权限"},
		{"bad token", client{Client: demo.Client, token: "0123456789abcdef0123456789abcdef"}, seedRequest(), 400, "InvalidAuthentication", "不合法的access_token"},
	} {
		_, err := c.cli.create(c.req)
		wantSDKError(t, c.name, err, c.status, c.code, c.message)
	}

	// CreateGroup without options sends no token header.
	_, err := demo.CreateGroup(seedRequest())
	wantSDKError(t, "no token header", err, 400, "AuthenticationFailed.MissingParameter", "x-acs-dingtalk-access-token")

	// The missing permission names the scope.
	_, err = newClient(t, srv, readerApp).create(seedRequest())
	var se *tea.SDKError
	if !asSDKError(err, &se) || fmt.Sprint(se.AccessDeniedDetail["requiredScopes"]) != "[qyapi_chat_manage]" {
		t.Errorf("accessdenieddetail = %v", se)
	}

	// 20 a second per app and API (the calls above count too): in a new
	// second, the 21st call is refused.
	clk.Advance(time.Second)
	for i := range 20 {
		if _, err := demo.create(seedRequest()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err = demo.create(seedRequest())
	wantSDKError(t, "21st call in a second", err, 403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")
	if _, err := newClient(t, srv, standardApp).create(seedRequest()); err != nil {
		t.Errorf("another app is limited too: %v", err)
	}
	clk.Advance(time.Second)
	if _, err := demo.create(seedRequest()); err != nil {
		t.Errorf("a second later: %v", err)
	}
}

func asSDKError(err error, se **tea.SDKError) bool {
	e, ok := err.(*tea.SDKError)
	*se = e
	return ok
}

// TestWireErrors checks what the SDK cannot send: malformed bodies, wrong
// types, unknown paths. Every error is JSON with a non-2xx status.
func TestWireErrors(t *testing.T) {
	srv := quntest.NewServer(t)
	tok := token(t, srv, appKey)
	for _, c := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"/v1.0/im/group/create", `{"name":`, 400, "parameter.invalid"},
		{"/v1.0/im/group/create", `{"name":"g","owner":"manager4220","useridlist":"userId"}`, 400, "parameter.invalid"},
		{"/v1.0/im/group/create", `{"name":"g","owner":"manager4220","useridlist":["userId"],"conversationTag":"2"}`, 400, "parameter.invalid"},
		{"/v1.0/im/group/create", `[]`, 400, "parameter.invalid"},
		{"/v1.0/im/group/create", `{} {}`, 400, "parameter.invalid"},
		{"/v1.0/im/group/nothing", `{}`, 404, "InvalidAction.NotFound"},
		{"/v1.0/oauth2/accessToken", `{"appKey":"dingqundemo","appSecret":"wrong"}`, 400, "invalidClientIdOrSecret"},
		{"/v1.0/oauth2/accessToken", `{"appKey":"nobody","appSecret":"x"}`, 400, "invalidClientIdOrSecret"},
		{"/v1.0/oauth2/accessToken", `{"appKey":1}`, 400, "parameter.invalid"},
	} {
		req, _ := http.NewRequest("POST", srv.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("x-acs-dingtalk-access-token", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil || resp.StatusCode != c.status || m["code"] != c.code || m["requestid"] == "" || m["requestid"] != resp.Header.Get("x-acs-request-id") {
			t.Errorf("%s %s: HTTP %d %v (%v), want %d %s", c.path, c.body, resp.StatusCode, m, err, c.status, c.code)
		}
	}
}

// TestAccessToken: within its lifetime, asking again returns the same
// token, renewed; the legacy endpoint returns the same token too.
func TestAccessToken(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	oc, _ := oauth2.NewClient(config(srv))
	get := func() (string, int64) {
		resp, err := oc.GetAccessToken(&oauth2.GetAccessTokenRequest{AppKey: tea.String(appKey), AppSecret: tea.String(appSecret)})
		if err != nil {
			t.Fatal(err)
		}
		return tea.StringValue(resp.Body.AccessToken), tea.Int64Value(resp.Body.ExpireIn)
	}
	first, exp := get()
	if len(first) != 32 || exp != 7200 {
		t.Fatalf("token %q expireIn %d", first, exp)
	}
	clk.Advance(7000 * time.Second)
	again, exp := get()
	if again != first || exp != 7200 {
		t.Errorf("after 7000 s: %q %d, want the same token renewed to 7200", again, exp)
	}
	clk.Advance(7000 * time.Second) // still valid thanks to the renewal
	if _, err := newClientWithToken(t, srv, first).create(seedRequest()); err != nil {
		t.Errorf("renewed token refused: %v", err)
	}
	legacyTok := legacy(t, srv, "GET", "/gettoken", map[string][]string{"appkey": {appKey}, "appsecret": {appSecret}}, "")
	if legacyTok["access_token"] != first || legacyTok["errcode"] != float64(0) || legacyTok["expires_in"] != float64(7200) {
		t.Errorf("legacy gettoken = %v, want the same token", legacyTok)
	}
	clk.Advance(7201 * time.Second)
	_, err := newClientWithToken(t, srv, first).create(seedRequest())
	wantSDKError(t, "expired token", err, 400, "InvalidAuthentication")
	if fresh, _ := get(); fresh == first {
		t.Error("an expired token was handed out again")
	}
	_, err = oc.GetAccessToken(&oauth2.GetAccessTokenRequest{AppKey: tea.String(appKey), AppSecret: tea.String("wrong")})
	wantSDKError(t, "wrong secret", err, 400, "invalidClientIdOrSecret")
}

func newClientWithToken(t *testing.T, srv *quntest.Server, tok string) client {
	t.Helper()
	ic, err := im.NewClient(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	return client{Client: ic, token: tok}
}

func TestUpdateGroup(t *testing.T) {
	srv := quntest.NewServer(t)
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	id := tea.StringValue(resp.Body.Chatid)
	up, err := demo.update(&im.UpdateGroupRequest{
		Chatid:        tea.String(id),
		Name:          tea.String("Renamed"),
		Icon:          tea.String("@newIcon"),
		AddUseridlist: tea.StringSlice([]string{"lisi", "user001"}),
		DelExtidlist:  tea.StringSlice([]string{"unionId"}),
		AddExtidlist:  tea.StringSlice([]string{"ext002"}),
		ManagementOptions: &im.UpdateGroupRequestManagementOptions{
			ManagementType: tea.Int32(1), ChatBannedType: tea.Int32(1),
		},
	})
	if err != nil || !tea.BoolValue(up.Body.Success) {
		t.Fatalf("update: %v %+v", err, up)
	}
	c := chat(t, srv, id)
	roles := c.roles()
	if c.Name != "Renamed" || c.Avatar != "@newIcon" || c.Settings.WhoCanEdit != "owners" || c.Settings.WhoCanSpeak != "owners" || c.Settings.WhoCanMentionAll != "everyone" ||
		len(roles) != 5 || roles["lisi"] != "member" || roles["ext002"] != "member" || roles["unionId"] != "" {
		t.Errorf("after update: %+v roles %v", c, roles)
	}
	// Hand the group to lisi, then remove a member.
	if _, err := demo.update(&im.UpdateGroupRequest{Chatid: tea.String(id), Owner: tea.String("lisi"), DelUseridlist: tea.StringSlice([]string{"user001"})}); err != nil {
		t.Fatal(err)
	}
	roles = chat(t, srv, id).roles()
	if roles["lisi"] != "owner" || roles[seedOwner] != "member" || roles["user001"] != "" {
		t.Errorf("after transfer: %v", roles)
	}
	other, err := newClient(t, srv, standardApp).create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cli  client
		req  *im.UpdateGroupRequest
		code string
	}{
		{"no chatid", demo, &im.UpdateGroupRequest{Name: tea.String("x")}, "parameter.invalid"},
		{"unknown chatid", demo, &im.UpdateGroupRequest{Chatid: tea.String("chat00000000000000000000000000000000"), Name: tea.String("x")}, "parameter.invalid"},
		{"another app's group", demo, &im.UpdateGroupRequest{Chatid: other.Body.Chatid, Name: tea.String("x")}, "permession.checkFailed"},
		{"remove the owner", demo, &im.UpdateGroupRequest{Chatid: tea.String(id), DelUseridlist: tea.StringSlice([]string{"lisi"})}, "parameter.invalid"},
		{"add an unknown user", demo, &im.UpdateGroupRequest{Chatid: tea.String(id), AddUseridlist: tea.StringSlice([]string{"nobody"})}, "parameter.invalid"},
		{"owner not in the group", demo, &im.UpdateGroupRequest{Chatid: tea.String(id), Owner: tea.String("user002")}, "parameter.invalid"},
		{"21-character name", demo, &im.UpdateGroupRequest{Chatid: tea.String(id), Name: tea.String(strings.Repeat("x", 21))}, "parameter.invalid"},
	} {
		_, err := c.cli.update(c.req)
		wantSDKError(t, c.name, err, 400, c.code)
	}
	if c := chat(t, srv, id); c.Name != "Renamed" || len(c.roles()) != 4 {
		t.Errorf("failed updates changed the group: %+v", c)
	}
	// By openConversationId too.
	if _, err := demo.update(&im.UpdateGroupRequest{Chatid: resp.Body.OpenConversationId, Name: tea.String("By cid")}); err != nil {
		t.Errorf("update by openConversationId: %v", err)
	}
}

func TestConvertAndSubAdministrators(t *testing.T) {
	srv := quntest.NewServer(t)
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	id, cid := tea.StringValue(resp.Body.Chatid), tea.StringValue(resp.Body.OpenConversationId)
	conv, err := demo.convert(id)
	if err != nil || tea.StringValue(conv.Body.OpenConversationId) != cid {
		t.Errorf("convert: %v %+v, want %s", err, conv, cid)
	}
	// A read permission suffices, but only for the app's own groups.
	_, err = newClient(t, srv, readerApp).convert(id)
	wantSDKError(t, "another app's group", err, 400, "permession.checkFailed")
	_, err = demo.convert("chat00000000000000000000000000000000")
	wantSDKError(t, "unknown chat", err, 400, "invalideChatId")

	sub, err := demo.subAdmins(cid, 2, seedMember)
	if err != nil || tea.StringValue(sub.Body.Success) != "true" {
		t.Fatalf("sub-admin: %v %+v", err, sub)
	}
	if roles := chat(t, srv, id).roles(); roles[seedMember] != "manager" {
		t.Errorf("after role 2: %v", roles)
	}
	if _, err := demo.subAdmins(cid, 3, seedMember); err != nil {
		t.Fatal(err)
	}
	if roles := chat(t, srv, id).roles(); roles[seedMember] != "member" {
		t.Errorf("after role 3: %v", roles)
	}
	for _, c := range []struct {
		name  string
		cid   string
		role  int32
		users []string
		code  string
	}{
		{"bad role", cid, 4, []string{seedMember}, "invalidParamter.role"},
		{"unknown group", "cidNOPE", 2, []string{seedMember}, "invalidParameter.openConversationId.invalid"},
		{"unknown staff", cid, 2, []string{"nobody"}, "staff.not.found"},
		{"not in the group", cid, 2, []string{"lisi"}, "invalid.staffid"},
		{"13 users", cid, 2, strings.Split("a,b,c,d,e,f,g,h,i,j,k,l,m", ","), "subadmin.exceed"},
	} {
		_, err := demo.subAdmins(c.cid, c.role, c.users...)
		wantSDKError(t, c.name, err, 400, c.code)
	}
}

// TestConcurrentCreates: many creates at once make as many groups, each
// with its own identifiers.
func TestConcurrentCreates(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	demo := newClient(t, srv, appKey)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	for range 30 {
		// The SDK's client is not safe for concurrent use: one each.
		ic, err := im.NewClient(config(srv))
		if err != nil {
			t.Fatal(err)
		}
		own := client{Client: ic, token: demo.token}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := own.create(seedRequest())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[tea.StringValue(resp.Body.Chatid)] = true
			seen[tea.StringValue(resp.Body.OpenConversationId)] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(seen) != 60 {
		t.Errorf("%d distinct IDs for 30 groups, want 60", len(seen))
	}
}

// TestRateLimiterDown: when the shared limiter (Redis) does not answer, a
// create it must count is refused with DingTalk's system error (HTTP 500),
// not let through: limits fail closed.
func TestRateLimiterDown(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithRedis("redis://127.0.0.1:1/0"))
	_, err := newClient(t, srv, appKey).create(seedRequest())
	wantSDKError(t, "limiter down", err, 500, "system.error", "Try again. If it always fails, submit a ticket")
}
