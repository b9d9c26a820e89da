package feishu_test

import (
	"fmt"
	"slices"
	"testing"

	lark "github.com/larksuite/oapi-sdk-go/v3"
	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"

	"github.com/qunhq/qun/quntest"
)

func addMembers(t testing.TB, cli *lark.Client, id, kind string, succeed int, ids ...string) *larkim.CreateChatMembersResp {
	t.Helper()
	b := larkim.NewCreateChatMembersReqBuilder().ChatId(id).MemberIdType(kind).
		Body(larkim.NewCreateChatMembersReqBodyBuilder().IdList(ids).Build())
	if succeed >= 0 {
		b.SucceedType(succeed)
	}
	resp, err := cli.Im.V1.ChatMembers.Create(ctx, b.Build())
	if err != nil {
		t.Fatalf("add members: %v", err)
	}
	return resp
}

func removeMembers(t *testing.T, cli *lark.Client, id, kind string, ids ...string) *larkim.DeleteChatMembersResp {
	t.Helper()
	resp, err := cli.Im.V1.ChatMembers.Delete(ctx, larkim.NewDeleteChatMembersReqBuilder().ChatId(id).MemberIdType(kind).
		Body(larkim.NewDeleteChatMembersReqBodyBuilder().IdList(ids).Build()).Build())
	if err != nil {
		t.Fatalf("remove members: %v", err)
	}
	return resp
}

// memberIDs lists a chat's users through GetByIterator.
func memberIDs(t *testing.T, cli *lark.Client, id, kind string, pageSize int) []string {
	t.Helper()
	it, err := cli.Im.V1.ChatMembers.GetByIterator(ctx, larkim.NewGetChatMembersReqBuilder().ChatId(id).MemberIdType(kind).PageSize(pageSize).Build())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range drain(t, 10000, it.Next) {
		if *m.MemberIdType != kind {
			t.Errorf("member_id_type %s, want %s", *m.MemberIdType, kind)
		}
		out = append(out, *m.MemberId)
	}
	return out
}

func TestAddMembers(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Adds").Build())
	users := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, openID(t, srv, demoTenant, n, appID))
		}
		return out
	}
	nobody := "ou_00000000000000000000000000000000"
	friend := openID(t, srv, partnerTenant, "zhaoliu", appID)

	// succeed_type 0 (the default): resigned users are skipped and listed.
	r := addMembers(t, cli, id, "open_id", -1, append(users("lisi", "wangwu"), users("lisi")...)...)
	if !r.Success() || !slices.Equal(r.Data.InvalidIdList, users("wangwu")) || len(r.Data.NotExistedIdList) != 0 || len(r.Data.PendingApprovalIdList) != 0 {
		t.Errorf("succeed_type 0 with a resigned user: %d %s %+v", r.Code, r.Msg, r.Data)
	}
	// ...but an ID that names nobody fails the call, by its kind's code.
	for _, c := range []struct {
		kind, id string
		want     int
	}{
		{"open_id", nobody, 99992351},
		{"union_id", "on_00000000000000000000000000000000", 99992364},
		{"user_id", "nobody", 99992360},
		{"app_id", "cli_0000000000000000", 232043},
		{"open_id", openID(t, srv, demoTenant, "user001", helperApp), 99992361},
		{"open_id", friend, 232028},
	} {
		r := addMembers(t, cli, id, c.kind, 0, c.id)
		wantCode(t, "succeed_type 0, "+c.kind+" "+c.id, r.Code, r.StatusCode, c.want)
	}
	r = addMembers(t, cli, id, "open_id", 0, nobody)
	if r.Msg != "these open ids not existed: ["+nobody+"]" {
		t.Errorf("99992351 msg = %q", r.Msg)
	}

	// succeed_type 1 adds what it can and lists the rest.
	r = addMembers(t, cli, id, "open_id", 1, append(users("user001", "wangwu"), nobody, friend)...)
	if !r.Success() || !slices.Equal(r.Data.InvalidIdList, append(users("wangwu"), friend)) || !slices.Equal(r.Data.NotExistedIdList, []string{nobody}) {
		t.Errorf("succeed_type 1: %d %s %+v", r.Code, r.Msg, r.Data)
	}
	// succeed_type 2 adds nothing when anything is unusable, and says what.
	r = addMembers(t, cli, id, "open_id", 2, append(users("user002"), nobody)...)
	if r.Code != 232043 || r.Data == nil || !slices.Equal(r.Data.NotExistedIdList, []string{nobody}) {
		t.Errorf("succeed_type 2: %d %s %+v", r.Code, r.Msg, r.Data)
	}
	r = addMembers(t, cli, id, "open_id", 2, users("user002", "user003")...)
	if !r.Success() {
		t.Errorf("succeed_type 2, all usable: %d %s", r.Code, r.Msg)
	}
	// Bots by app_id.
	r = addMembers(t, cli, id, "app_id", 0, helperApp)
	wantCode(t, "add a bot", r.Code, r.StatusCode, 0)
	r = addMembers(t, cli, id, "app_id", 1, noBotApp, storeApp)
	if !r.Success() || !slices.Equal(r.Data.InvalidIdList, []string{noBotApp}) {
		t.Errorf("bots, succeed_type 1: %+v", r.Data)
	}
	want := users("lisi", "user001", "user002", "user003")
	if got := memberIDs(t, cli, id, "open_id", 20); !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v", got, want)
	}

	for _, c := range []struct {
		name string
		ids  []string
		kind string
		st   int
		want int
	}{
		{"empty list", nil, "open_id", 0, 232027},
		{"51 users", make51(), "user_id", 0, 232001},
		{"6 bots", []string{"a", "b", "c", "d", "e", "f"}, "app_id", 0, 232001},
		{"bad succeed_type", users("user004"), "open_id", 3, 232001},
		{"bad member_id_type", users("user004"), "email", 0, 232001},
	} {
		r := addMembers(t, cli, id, c.kind, c.st, c.ids...)
		wantCode(t, c.name, r.Code, r.StatusCode, c.want)
	}
}

func make51() []string {
	out := make([]string, 51)
	for i := range out {
		out[i] = fmt.Sprintf("user%03d", i+1)
	}
	return out
}

// TestAddMembersPermissions covers who may add: owners only when the chat
// says so, and approval for plain members.
func TestAddMembersPermissions(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli, helper := client(srv, appID), client(srv, helperApp)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Approvals").MembershipApproval("approval_required").BotIdList([]string{helperApp}).Build())
	// The helper (a plain member) adds: the user waits for approval.
	u := openID(t, srv, demoTenant, "user010", helperApp)
	r := addMembers(t, helper, id, "open_id", 0, u)
	if !r.Success() || !slices.Equal(r.Data.PendingApprovalIdList, []string{u}) {
		t.Errorf("plain member adds to an approval chat: %+v", r.Data)
	}
	if got := memberIDs(t, cli, id, "open_id", 20); len(got) != 0 {
		t.Errorf("pending user was added: %v", got)
	}
	// The owner's additions need no approval.
	r = addMembers(t, cli, id, "user_id", 0, "user010")
	if !r.Success() || len(r.Data.PendingApprovalIdList) != 0 {
		t.Errorf("owner adds: %+v", r.Data)
	}
	// Only owners and managers may add once the chat says so.
	if r := update(t, cli, id, "open_id", larkim.NewUpdateChatReqBodyBuilder().AddMemberPermission("only_owner").ShareCardPermission("not_allowed").Build()); !r.Success() {
		t.Fatal(r.Msg)
	}
	r = addMembers(t, helper, id, "open_id", 0, openID(t, srv, demoTenant, "user011", helperApp))
	wantCode(t, "plain member adds to an owners-only chat", r.Code, r.StatusCode, 232017)
	// A stranger cannot add at all.
	r = addMembers(t, client(srv, storeApp), id, "open_id", 0, openID(t, srv, demoTenant, "user011", storeApp))
	wantCode(t, "stranger adds", r.Code, r.StatusCode, 232011)
}

// TestAddExternalMembers: other tenants' users may join external chats when
// they are the owner's friends.
func TestAddExternalMembers(t *testing.T) {
	srv := quntest.NewServer(t)
	cli := client(srv, appID)
	external := true
	id := mkChat(t, cli, &larkim.CreateChatReqBody{Name: str("Ext"), OwnerId: str(ownerOpenID), External: &external})
	friend := openID(t, srv, partnerTenant, "zhaoliu", appID)
	stranger := openID(t, srv, partnerTenant, "sunqi", appID)
	r := addMembers(t, cli, id, "open_id", 0, stranger)
	wantCode(t, "not a friend", r.Code, r.StatusCode, 232024)
	r = addMembers(t, cli, id, "open_id", 0, friend)
	wantCode(t, "a friend", r.Code, r.StatusCode, 0)
}

func TestRemoveMembers(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli, helper := client(srv, appID), client(srv, helperApp)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Removals").OwnerId(ownerOpenID).
		UserIdList([]string{openID(t, srv, demoTenant, "lisi", appID), openID(t, srv, demoTenant, "user001", appID)}).
		BotIdList([]string{helperApp}).Build())
	wantCode(t, "remove the owner", removeMembers(t, cli, id, "user_id", "zhangsan").Code, 400, 232076)
	r := removeMembers(t, helper, id, "open_id", openID(t, srv, demoTenant, "lisi", helperApp))
	wantCode(t, "plain member removes another", r.Code, r.StatusCode, 232014)
	r = removeMembers(t, helper, id, "user_id", "lisi")
	wantCode(t, "user_id without the employee-id scope", r.Code, r.StatusCode, 99991672)
	wantCode(t, "nobody valid", removeMembers(t, cli, id, "user_id", "user009", "nobody").Code, 400, 232027)
	wantCode(t, "empty", removeMembers(t, cli, id, "user_id").Code, 400, 232027)
	// The creator (with operate_as_owner) removes; unknown IDs are listed.
	r = removeMembers(t, cli, id, "user_id", "lisi", "nobody")
	if !r.Success() || !slices.Equal(r.Data.InvalidIdList, []string{"nobody"}) {
		t.Errorf("remove: %d %s %+v", r.Code, r.Msg, r.Data)
	}
	// Any member may leave.
	r = removeMembers(t, helper, id, "app_id", helperApp)
	wantCode(t, "a bot leaves", r.Code, r.StatusCode, 0)
	if got := memberIDs(t, cli, id, "user_id", 20); !slices.Equal(got, []string{"zhangsan", "user001"}) {
		t.Errorf("members after removals = %v", got)
	}
	if in, err := helper.Im.V1.ChatMembers.IsInChat(ctx, larkim.NewIsInChatChatMembersReqBuilder().ChatId(id).Build()); err != nil || !in.Success() || *in.Data.IsInChat {
		t.Errorf("is_in_chat after leaving: %v %+v", err, in)
	}
	if in, err := cli.Im.V1.ChatMembers.IsInChat(ctx, larkim.NewIsInChatChatMembersReqBuilder().ChatId(id).Build()); err != nil || !*in.Data.IsInChat {
		t.Errorf("is_in_chat of a member: %v %+v", err, in)
	}
}

// TestListMembers pages through a chat of 60 users and 3 bots with the SDK's
// iterator: users only, every one once, and the iterator stops.
func TestListMembers(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Big").OwnerId(ownerOpenID).BotIdList([]string{helperApp, storeApp}).Build())
	var want = []string{"zhangsan"}
	for batch := range 2 {
		var ids []string
		for i := range 30 {
			ids = append(ids, fmt.Sprintf("user%03d", batch*30+i+1))
		}
		if r := addMembers(t, cli, id, "user_id", 0, ids...); !r.Success() {
			t.Fatal(r.Msg)
		}
		want = append(want, ids...)
	}
	for _, size := range []int{7, 20, 100} {
		if got := memberIDs(t, cli, id, "user_id", size); !slices.Equal(got, want) {
			t.Errorf("page size %d: %d members, want %d in join order", size, len(got), len(want))
		}
	}
	resp, err := cli.Im.V1.ChatMembers.Get(ctx, larkim.NewGetChatMembersReqBuilder().ChatId(id).PageSize(100).MemberIdType("open_id").Build())
	if err != nil || !resp.Success() || *resp.Data.MemberTotal != 61 || *resp.Data.HasMore || resp.Data.PageToken != nil {
		t.Errorf("one page: %v %+v", err, resp)
	}
	m := resp.Data.Items[0]
	if *m.MemberId != ownerOpenID || *m.Name != "张三" || *m.TenantKey != demoTenant {
		t.Errorf("first member = %+v", m)
	}
	raw := do(t, "GET", srv.URL+"/open-apis/im/v1/chats/"+id+"/members?page_size=5", "Bearer "+tenantToken(t, srv, appID), "{}").JSON(t)
	if total, ok := raw["data"].(map[string]any)["member_total"].(float64); !ok || total != 61 {
		t.Errorf("member_total = %#v, want the number 61", raw["data"].(map[string]any)["member_total"])
	}
	bad, err := cli.Im.V1.ChatMembers.Get(ctx, larkim.NewGetChatMembersReqBuilder().ChatId(id).MemberIdType("app_id").Build())
	if err != nil || bad.Code != 232001 {
		t.Errorf("member_id_type app_id: %v %+v", err, bad)
	}
	stranger, err := client(srv, storeApp).Im.V1.ChatMembers.Get(ctx, larkim.NewGetChatMembersReqBuilder().ChatId("oc_00000000000000000000000000000000").Build())
	if err != nil || stranger.Code != 232006 {
		t.Errorf("unknown chat: %v %+v", err, stranger)
	}
}

func managers(t *testing.T, cli *lark.Client, id, kind string, add bool, ids ...string) (int, []string, []string) {
	t.Helper()
	if add {
		r, err := cli.Im.V1.ChatManagers.AddManagers(ctx, larkim.NewAddManagersChatManagersReqBuilder().ChatId(id).MemberIdType(kind).
			Body(larkim.NewAddManagersChatManagersReqBodyBuilder().ManagerIds(ids).Build()).Build())
		if err != nil {
			t.Fatal(err)
		}
		if !r.Success() {
			return r.Code, nil, nil
		}
		return 0, r.Data.ChatManagers, r.Data.ChatBotManagers
	}
	r, err := cli.Im.V1.ChatManagers.DeleteManagers(ctx, larkim.NewDeleteManagersChatManagersReqBuilder().ChatId(id).MemberIdType(kind).
		Body(larkim.NewDeleteManagersChatManagersReqBodyBuilder().ManagerIds(ids).Build()).Build())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Success() {
		return r.Code, nil, nil
	}
	return 0, r.Data.ChatManagers, r.Data.ChatBotManagers
}

func TestManagers(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	cli := client(srv, appID)
	var ids []string
	for i := range 12 {
		ids = append(ids, fmt.Sprintf("user%03d", i+1))
	}
	id := mkChat(t, cli, larkim.NewCreateChatReqBodyBuilder().Name("Managed").BotIdList([]string{helperApp}).Build())
	if r := addMembers(t, cli, id, "user_id", 0, ids...); !r.Success() {
		t.Fatal(r.Msg)
	}
	code, users, bots := managers(t, cli, id, "user_id", true, "user001", "user002", "nobody")
	if code != 0 || !slices.Equal(users, []string{"user001", "user002"}) || len(bots) != 0 {
		t.Errorf("add managers: %d %v %v", code, users, bots)
	}
	code, users, bots = managers(t, cli, id, "app_id", true, helperApp)
	if code != 0 || !slices.Equal(bots, []string{helperApp}) || len(users) != 2 || users[0][:3] != "ou_" {
		t.Errorf("add a bot manager: %d %v %v (users shown by open_id)", code, users, bots)
	}
	if d := getChat(t, cli, id, "user_id").Data; !slices.Equal(d.UserManagerIdList, []string{"user001", "user002"}) || !slices.Equal(d.BotManagerIdList, []string{helperApp}) {
		t.Errorf("get lists managers %v %v", d.UserManagerIdList, d.BotManagerIdList)
	}
	code, _, _ = managers(t, cli, id, "user_id", true, ids[2:]...)
	if code != 232040 {
		t.Errorf("13 managers: %d, want 232040", code)
	}
	code, users, _ = managers(t, cli, id, "user_id", false, "user001")
	if code != 0 || !slices.Equal(users, []string{"user002"}) {
		t.Errorf("delete managers: %d %v", code, users)
	}
	if code, _, _ = managers(t, cli, id, "user_id", true, "user099"); code != 232027 {
		t.Errorf("a non-member: %d, want 232027", code)
	}
	// Only the owner changes managers, even a manager may not.
	if code, _, _ = managers(t, client(srv, helperApp), id, "open_id", true, openID(t, srv, demoTenant, "user003", helperApp)); code != 232038 {
		t.Errorf("a manager adds managers: %d, want 232038", code)
	}
}
