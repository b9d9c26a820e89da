package feishu_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	lark "github.com/larksuite/oapi-sdk-go/v3"
	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"

	"github.com/qunhq/qun/quntest"
)

// mkChat creates a chat through the SDK and returns its chat_id.
func mkChat(t testing.TB, cli *lark.Client, b *larkim.CreateChatReqBody) string {
	t.Helper()
	resp, err := cli.Im.V1.Chat.Create(ctx, larkim.NewCreateChatReqBuilder().Body(b).Build())
	if err != nil || !resp.Success() {
		t.Fatalf("create: %v %+v", err, resp)
	}
	return *resp.Data.ChatId
}

func wantCode(t *testing.T, what string, gotCode, gotStatus, want int) {
	t.Helper()
	wantStatus := http.StatusOK
	if want != 0 {
		wantStatus = http.StatusBadRequest
	}
	if want == 99991400 {
		wantStatus = http.StatusTooManyRequests
	}
	if gotCode != want || gotStatus != wantStatus {
		t.Errorf("%s: code %d (HTTP %d), want %d (HTTP %d)", what, gotCode, gotStatus, want, wantStatus)
	}
}

func getChat(t *testing.T, cli *lark.Client, id, idType string) *larkim.GetChatResp {
	t.Helper()
	resp, err := cli.Im.V1.Chat.Get(ctx, larkim.NewGetChatReqBuilder().ChatId(id).UserIdType(idType).Build())
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	return resp
}

func TestGetChat(t *testing.T) {
	srv := quntest.NewServer(t)
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Get me").Description("d").OwnerId(ownerOpenID).
		UserIdList([]string{openID(t, srv, demoTenant, "lisi", appID)}).BotIdList([]string{helperApp}).Build())
	if resp, err := cli.Im.V1.ChatManagers.AddManagers(ctx, larkim.NewAddManagersChatManagersReqBuilder().ChatId(id).
		Body(larkim.NewAddManagersChatManagersReqBodyBuilder().ManagerIds([]string{openID(t, srv, demoTenant, "lisi", appID)}).Build()).Build()); err != nil || resp.Code != 232038 {
		// The bot is not the owner here: only the owner may add managers.
		t.Fatalf("add managers as a non-owner: %v %+v", err, resp)
	}

	resp := getChat(t, cli, id, "union_id")
	if !resp.Success() {
		t.Fatalf("get: %d %s", resp.Code, resp.Msg)
	}
	d := resp.Data
	if *d.Name != "Get me" || *d.Description != "d" || *d.OwnerIdType != "union_id" || *d.OwnerId != ownerUnionID ||
		*d.UserCount != "2" || *d.BotCount != "2" || *d.ChatStatus != "normal" || *d.ChatMode != "group" || *d.TenantKey != demoTenant ||
		*d.AddMemberPermission != "all_members" || *d.ShareCardPermission != "allowed" || *d.ModerationPermission != "all_members" {
		t.Errorf("get = %+v", d)
	}
	// On the wire: counts are strings and there is no chat_id.
	tok := "Bearer " + tenantToken(t, srv, appID)
	raw := do(t, "GET", srv.URL+"/open-apis/im/v1/chats/"+id, tok, "").JSON(t)["data"].(map[string]any)
	if _, ok := raw["chat_id"]; ok {
		t.Error("chat_id is in the get answer")
	}
	if raw["user_count"] != "2" || raw["bot_count"] != "2" {
		t.Errorf("counts = %#v, %#v; want strings", raw["user_count"], raw["bot_count"])
	}
	// GET tolerates a body, as the Node SDK sends "{}".
	if r := do(t, "GET", srv.URL+"/open-apis/im/v1/chats/"+id, tok, "{}"); r.Status != 200 {
		t.Errorf("GET with body {}: HTTP %d %s", r.Status, r.Body)
	}

	// A bot-owned chat has no owner fields.
	botOwned := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Bot owned").Build())
	raw = do(t, "GET", srv.URL+"/open-apis/im/v1/chats/"+botOwned, tok, "").JSON(t)["data"].(map[string]any)
	if _, ok := raw["owner_id"]; ok {
		t.Errorf("owner_id in a bot-owned chat: %v", raw)
	}

	// A bot of the tenant that is not in the chat sees the outside view.
	outside := getChat(t, client(srv, storeApp), id, "open_id")
	if !outside.Success() || *outside.Data.Name != "Get me" || *outside.Data.UserCount != "2" || *outside.Data.ChatStatus != "normal" ||
		outside.Data.Description != nil || outside.Data.OwnerId != nil || outside.Data.TenantKey != nil {
		t.Errorf("outside view = %+v", outside.Data)
	}

	for _, c := range []struct {
		name, id string
		app      string
		want     int
	}{
		{"unknown chat", "oc_00000000000000000000000000000000", appID, 232006},
		{"malformed chat id", "nope", appID, 232006},
		{"other tenant", id, lockedApp, 232010},
		{"no bot ability", id, noBotApp, 232025},
		{"disabled app", id, disabledApp, 232034},
	} {
		r := getChat(t, client(srv, c.app), c.id, "open_id")
		wantCode(t, c.name, r.Code, r.StatusCode, c.want)
	}
}

// TestHiddenMemberCount: a chat that hides its member count shows it only
// to its owner and managers.
func TestHiddenMemberCount(t *testing.T) {
	srv := quntest.NewServer(t)
	owner := client(srv, appID)
	id := mkChat(t, owner, larkim.NewCreateChatReqBodyBuilder().HideMemberCountSetting("only_owner").BotIdList([]string{helperApp}).Build())
	if r := getChat(t, owner, id, "open_id"); r.Data.UserCount == nil || *r.Data.BotCount != "2" {
		t.Errorf("owner does not see the counts: %+v", r.Data)
	}
	if r := getChat(t, client(srv, helperApp), id, "open_id"); r.Data.UserCount != nil || r.Data.BotCount != nil || *r.Data.HideMemberCountSetting != "only_owner" {
		t.Errorf("a plain member sees the counts: %+v", r.Data)
	}
}

func update(t *testing.T, cli *lark.Client, id, idType string, b *larkim.UpdateChatReqBody) *larkim.UpdateChatResp {
	t.Helper()
	resp, err := cli.Im.V1.Chat.Update(ctx, larkim.NewUpdateChatReqBuilder().ChatId(id).UserIdType(idType).Body(b).Build())
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	return resp
}

func TestUpdateChat(t *testing.T) {
	srv := quntest.NewServer(t)
	cli := client(srv, appID)
	lisi := openID(t, srv, demoTenant, "lisi", appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Before").Description("keep me").
		UserIdList([]string{lisi}).BotIdList([]string{helperApp}).Build())

	// Only the fields sent change.
	r := update(t, cli, id, "open_id", larkim.NewUpdateChatReqBodyBuilder().Name("After").JoinMessageVisibility("only_owner").
		AddMemberPermission("only_owner").ShareCardPermission("not_allowed").Build())
	if !r.Success() {
		t.Fatalf("update: %d %s", r.Code, r.Msg)
	}
	d := getChat(t, cli, id, "open_id").Data
	if *d.Name != "After" || *d.Description != "keep me" || *d.JoinMessageVisibility != "only_owner" || *d.LeaveMessageVisibility != "all_members" ||
		*d.AddMemberPermission != "only_owner" || *d.ShareCardPermission != "not_allowed" {
		t.Errorf("after update: %+v", d)
	}
	// An empty update is fine and changes nothing.
	if r := update(t, cli, id, "open_id", larkim.NewUpdateChatReqBodyBuilder().Build()); !r.Success() {
		t.Errorf("empty update: %d %s", r.Code, r.Msg)
	}

	// Transfer the chat to lisi: the bot stays a member.
	if r := update(t, cli, id, "open_id", larkim.NewUpdateChatReqBodyBuilder().OwnerId(lisi).Build()); !r.Success() {
		t.Fatalf("transfer: %d %s", r.Code, r.Msg)
	}
	if d := getChat(t, cli, id, "user_id").Data; *d.OwnerId != "lisi" || *d.OwnerIdType != "user_id" {
		t.Errorf("owner after transfer = %s (%s)", *d.OwnerId, *d.OwnerIdType)
	}

	// A plain member bot (the helper) may change only the basics, and only
	// while everyone may edit.
	helper := client(srv, helperApp)
	friend := openID(t, srv, partnerTenant, "zhaoliu", appID)
	for _, c := range []struct {
		name string
		cli  *lark.Client
		b    *larkim.UpdateChatReqBody
		want int
	}{
		{"member renames", helper, larkim.NewUpdateChatReqBodyBuilder().Name("Helper was here").Build(), 0},
		{"member changes a setting", helper, larkim.NewUpdateChatReqBodyBuilder().UrgentSetting("only_owner").Build(), 232016},
		{"member transfers", helper, larkim.NewUpdateChatReqBodyBuilder().OwnerId(openID(t, srv, demoTenant, "zhangsan", helperApp)).Build(), 232016},
		{"creator (operate_as_owner) locks editing", cli, larkim.NewUpdateChatReqBodyBuilder().EditPermission("only_owner").Build(), 0},
		{"member renames a locked chat", helper, larkim.NewUpdateChatReqBodyBuilder().Name("x").Build(), 232002},
		{"unknown enum", cli, larkim.NewUpdateChatReqBodyBuilder().UrgentSetting("everyone").Build(), 232001},
		{"add and share disagree", cli, larkim.NewUpdateChatReqBodyBuilder().AddMemberPermission("all_members").Build(), 232001},
		{"new owner not in the chat", cli, larkim.NewUpdateChatReqBodyBuilder().OwnerId(openID(t, srv, demoTenant, "user001", appID)).Build(), 232012},
		{"new owner unknown", cli, larkim.NewUpdateChatReqBodyBuilder().OwnerId("ou_00000000000000000000000000000000").Build(), 232030},
		{"new owner of another tenant", cli, larkim.NewUpdateChatReqBodyBuilder().OwnerId(friend).Build(), 232031},
		{"blocked word", cli, larkim.NewUpdateChatReqBodyBuilder().Description("违禁词").Build(), 232023},
		{"illegal avatar", cli, larkim.NewUpdateChatReqBodyBuilder().Avatar("not a key!").Build(), 232041},
		{"restricted on, nothing withheld", cli, larkim.NewUpdateChatReqBodyBuilder().RestrictedModeSetting(larkim.NewRestrictedModeSettingBuilder().Status(true).Build()).Build(), 232001},
		{"restricted on", cli, larkim.NewUpdateChatReqBodyBuilder().RestrictedModeSetting(restricted(true, "not_anyone")).Build(), 0},
		{"public, too short", cli, larkim.NewUpdateChatReqBodyBuilder().ChatType("public").Name("x").Build(), 232020},
		{"go public", cli, larkim.NewUpdateChatReqBodyBuilder().ChatType("public").Name("Open house").Build(), 0},
	} {
		r := update(t, c.cli, id, "open_id", c.b)
		wantCode(t, c.name, r.Code, r.StatusCode, c.want)
	}
	if d := getChat(t, cli, id, "open_id").Data; *d.Name != "Open house" || *d.ChatType != "public" || !*d.RestrictedModeSetting.Status || *d.EditPermission != "only_owner" {
		t.Errorf("after the updates: %+v", d)
	}
	// Public chat names are unique in a tenant.
	other := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Private first").Build())
	r = update(t, cli, other, "open_id", larkim.NewUpdateChatReqBodyBuilder().ChatType("public").Name("Open house").Build())
	wantCode(t, "public name taken", r.Code, r.StatusCode, 232026)

	// Locked-down tenants forbid public chats.
	locked := client(srv, lockedApp)
	lid := mkChat(t, locked, larkim.NewCreateChatReqBodyBuilder().Name("Locked").Build())
	r = update(t, locked, lid, "open_id", larkim.NewUpdateChatReqBodyBuilder().ChatType("public").Build())
	wantCode(t, "public forbidden", r.Code, r.StatusCode, 232091)
}

// TestUpdateExternalChat: external chats cannot go public.
func TestUpdateExternalChat(t *testing.T) {
	srv := quntest.NewServer(t)
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Partners").OwnerId(ownerOpenID).
		UserIdList([]string{openID(t, srv, partnerTenant, "zhaoliu", appID)}).Build())
	r := update(t, cli, id, "open_id", larkim.NewUpdateChatReqBodyBuilder().ChatType("public").Build())
	wantCode(t, "external goes public", r.Code, r.StatusCode, 232069)
	// An app without external chats cannot touch it.
	r2 := getChat(t, client(srv, helperApp), id, "open_id")
	wantCode(t, "external chat from an internal-only app", r2.Code, r2.StatusCode, 232033)
}

func dissolve(t *testing.T, cli *lark.Client, id string) *larkim.DeleteChatResp {
	t.Helper()
	resp, err := cli.Im.V1.Chat.Delete(ctx, larkim.NewDeleteChatReqBuilder().ChatId(id).Build())
	if err != nil {
		t.Fatalf("dissolve: %v", err)
	}
	return resp
}

func TestDissolveChat(t *testing.T) {
	srv := quntest.NewServer(t)
	cli := client(srv, appID)
	// The helper bot created and owns a chat; the demo bot is a member.
	helper := client(srv, helperApp)
	id := mkChat(t, helper, larkim.NewCreateChatReqBodyBuilder().Name("Helper's").BotIdList([]string{appID}).Build())
	r := dissolve(t, cli, id)
	wantCode(t, "member dissolves", r.Code, r.StatusCode, 232017)
	r = dissolve(t, client(srv, storeApp), id)
	wantCode(t, "stranger dissolves", r.Code, r.StatusCode, 232011)
	r = dissolve(t, helper, id)
	wantCode(t, "owner dissolves", r.Code, r.StatusCode, 0)
	r = dissolve(t, helper, id)
	wantCode(t, "dissolve again", r.Code, r.StatusCode, 232009)
	// The Node SDK sends "{}" with DELETE: accepted.
	other := mkChat(t, helper, larkim.NewCreateChatReqBodyBuilder().Name("Other").Build())
	if resp := do(t, "DELETE", srv.URL+"/open-apis/im/v1/chats/"+other, "Bearer "+tenantToken(t, srv, helperApp), "{}"); resp.Status != 200 {
		t.Errorf("DELETE with body {}: %d %s", resp.Status, resp.Body)
	}
}

func TestListChats(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	var ids []string
	for i := range 45 {
		b := larkim.NewCreateChatReqBodyBuilder().Name(fmt.Sprintf("chat %02d", i))
		if i%3 == 0 {
			b.OwnerId(ownerOpenID)
		}
		ids = append(ids, mkChat(t, cli, b.Build()))
	}
	// A chat the bot is not in, and a dissolved one, are not listed.
	mkChat(t, client(srv, helperApp), larkim.NewCreateChatReqBodyBuilder().Name("not ours").Build())
	gone := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("gone").Build())
	if r := dissolve(t, cli, gone); !r.Success() {
		t.Fatal(r.Msg)
	}

	it, err := cli.Im.V1.Chat.ListByIterator(ctx, larkim.NewListChatReqBuilder().PageSize(10).UserIdType("user_id").Build())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range drain(t, 100, it.Next) {
		got = append(got, *c.ChatId)
		if idx := slices.Index(ids, *c.ChatId); idx%3 == 0 && (c.OwnerId == nil || *c.OwnerId != "zhangsan" || *c.OwnerIdType != "user_id") {
			t.Errorf("chat %d owner = %v", idx, c.OwnerId)
		} else if idx%3 != 0 && c.OwnerId != nil {
			t.Errorf("bot-owned chat %d has owner %v", idx, *c.OwnerId)
		}
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("iterator listed %d chats, want the 45 in creation order", len(got))
	}

	// The last page has has_more false and no page_token at all.
	tok := "Bearer " + tenantToken(t, srv, appID)
	first := do(t, "GET", srv.URL+"/open-apis/im/v1/chats?page_size=40", tok, "").JSON(t)["data"].(map[string]any)
	next, _ := first["page_token"].(string)
	if first["has_more"] != true || next == "" {
		t.Fatalf("first page: %v", first)
	}
	last := do(t, "GET", srv.URL+"/open-apis/im/v1/chats?page_size=40&page_token="+next, tok, "").JSON(t)["data"].(map[string]any)
	if _, ok := last["page_token"]; ok || last["has_more"] != false || len(last["items"].([]any)) != 5 {
		t.Errorf("last page: has_more %v, page_token present %v, %d items", last["has_more"], ok, len(last["items"].([]any)))
	}

	// Most recently active first: updating a chat moves it to the top.
	if r := update(t, cli, ids[7], "open_id", larkim.NewUpdateChatReqBodyBuilder().Description("active").Build()); !r.Success() {
		t.Fatal(r.Msg)
	}
	resp, err := cli.Im.V1.Chat.List(ctx, larkim.NewListChatReqBuilder().SortType("ByActiveTimeDesc").PageSize(3).Build())
	if err != nil || !resp.Success() || *resp.Data.Items[0].ChatId != ids[7] || *resp.Data.Items[1].ChatId != ids[44] {
		t.Errorf("ByActiveTimeDesc: %v %+v", err, resp.Data)
	}

	for _, c := range []struct {
		query string
		want  int
	}{
		{"page_size=101", 99992402},
		{"page_size=-1", 232001},
		{"page_size=ten", 232001},
		{"sort_type=ByName", 232001},
		{"page_token=garbage", 232001},
		{"user_id_type=email", 232001},
	} {
		r := do(t, "GET", srv.URL+"/open-apis/im/v1/chats?"+c.query, tok, "")
		wantCode(t, c.query, int(r.JSON(t)["code"].(float64)), r.Status, c.want)
	}
	// A page token past the end gives an empty page.
	past := do(t, "GET", srv.URL+"/open-apis/im/v1/chats?page_token=cXVuMTowOjk5OTk5OTowMA==", tok, "").JSON(t)
	if items := past["data"].(map[string]any)["items"].([]any); len(items) != 0 {
		t.Errorf("past the end: %d items", len(items))
	}
}

func TestSearchChats(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	mine := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Rocket team").Build())
	i18n := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("火箭").I18nNames(larkim.NewI18nNamesBuilder().EnUs("Rocket science").Build()).Build())
	helper := client(srv, helperApp)
	public := mkChat(t, helper, larkim.NewCreateChatReqBodyBuilder().Name("Public rockets").ChatType("public").Build())
	mkChat(t, helper, larkim.NewCreateChatReqBodyBuilder().Name("Private rockets").Build())
	mkChat(t, client(srv, lockedApp), larkim.NewCreateChatReqBodyBuilder().Name("Rockets elsewhere").Build())
	for i := range 25 {
		mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name(fmt.Sprintf("rocket %d", i)).Build())
	}
	it, err := cli.Im.V1.Chat.SearchByIterator(ctx, larkim.NewSearchChatReqBuilder().Query("ROCKET").PageSize(10).Build())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range drain(t, 100, it.Next) {
		got = append(got, *c.ChatId)
	}
	if len(got) != 28 || !slices.Contains(got, mine) || !slices.Contains(got, i18n) || !slices.Contains(got, public) {
		t.Errorf("search found %d chats (want 28: the bot's 27 and the tenant's public one)", len(got))
	}
	for _, q := range []string{"", strings.Repeat("r", 65)} {
		resp, err := cli.Im.V1.Chat.Search(ctx, larkim.NewSearchChatReqBuilder().Query(q).Build())
		if err != nil || !resp.Success() || len(resp.Data.Items) != 0 || resp.Data.PageToken != nil {
			t.Errorf("query %q: %v %+v", q, err, resp)
		}
	}
}
