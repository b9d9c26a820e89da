package feishu_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"

	"github.com/qunhq/qun/internal/golden"
	"github.com/qunhq/qun/quntest"
)

// seedExample is the request body example of the create-chat document,
// verbatim.
const seedExample = `{
    "avatar": "default-avatar_44ae0ca3-e140-494b-956f-78091e348435",
    "name": "测试群名称",
    "description": "测试群描述",
    "i18n_names": {
        "zh_cn": "群聊",
        "en_us": "group chat",
        "ja_jp": "グループチャット"
    },
    "owner_id": "ou_7d8a6e6df7621556ce0d21922b676706ccs",
    "user_id_list": [
        "ou_7d8a6e6df7621556ce0d21922b676706ccs"
    ],
    "bot_id_list": [
        "cli_a10fbf7e94b8d01d"
    ],
    "group_message_type": "chat",
    "chat_mode": "group",
    "chat_type": "private",
    "join_message_visibility": "all_members",
    "leave_message_visibility": "all_members",
    "membership_approval": "no_approval_required",
    "restricted_mode_setting": {
        "status": false,
        "screenshot_has_permission_setting": "all_members",
        "download_has_permission_setting": "all_members",
        "message_has_permission_setting": "all_members"
    },
    "urgent_setting": "all_members",
    "video_conference_setting": "all_members",
    "edit_permission": "all_members",
    "hide_member_count_setting": "all_members"
}`

// seedAnswer is the response body example of the create-chat document,
// verbatim. Three of its values read "all members", which its own field
// table does not allow (only_owner | all_members); qun answers all_members.
const seedAnswer = `{
    "code": 0,
    "msg": "success",
    "data": {
        "chat_id": "oc_a0553eda9014c201e6969b478895c230",
        "avatar": "https://p3-lark-file.byteimg.com/img/lark-avatar-staging/default-avatar_44ae0ca3-e140-494b-956f-78091e348435~100x100.jpg",
        "name": "测试群名称",
        "description": "测试群描述",
        "i18n_names": {
            "zh_cn": "群聊",
            "en_us": "group chat",
            "ja_jp": "グループチャット"
        },
        "owner_id": "ou_7d8a6e6df7621556ce0d21922b676706ccs",
        "owner_id_type": "open_id",
        "urgent_setting": "all_members",
        "video_conference_setting": "all_members",
        "add_member_permission": "all members",
        "share_card_permission": "allowed",
        "at_all_permission": "all members",
        "edit_permission": "all members",
        "group_message_type": "chat",
        "chat_mode": "group",
        "chat_type": "private",
        "chat_tag": "inner",
        "external": false,
        "tenant_key": "736588c9260f175e",
        "join_message_visibility": "all_members",
        "leave_message_visibility": "all_members",
        "membership_approval": "no_approval_required",
        "moderation_permission": "all_members",
        "restricted_mode_setting": {
            "status": false,
            "screenshot_has_permission_setting": "all_members",
            "download_has_permission_setting": "all_members",
            "message_has_permission_setting": "all_members"
        },
        "hide_member_count_setting": "all_members"
    }
}
`

func seedBody(t *testing.T) *larkim.CreateChatReqBody {
	t.Helper()
	var b larkim.CreateChatReqBody
	if err := json.Unmarshal([]byte(seedExample), &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

func str(s string) *string { return &s }

func create(t *testing.T, srv *quntest.Server, app string, req *larkim.CreateChatReq) *larkim.CreateChatResp {
	t.Helper()
	resp, err := client(srv, app).Im.V1.Chat.Create(ctx, req)
	if err != nil {
		t.Fatalf("Create: transport error: %v", err)
	}
	return resp
}

var chatIDPattern = regexp.MustCompile(`^oc_[0-9a-f]{32}$`)

// TestCreateSeedExample sends the document's request example verbatim with
// the official SDK and checks every field of the answer.
func TestCreateSeedExample(t *testing.T) {
	srv := quntest.NewServer(t)
	resp := create(t, srv, appID, larkim.NewCreateChatReqBuilder().
		UserIdType("open_id").SetBotManager(false).Uuid("b13g2t38-1jd2-458b-8djf-dtbca5104204").
		Body(seedBody(t)).Build())
	if !resp.Success() || resp.StatusCode != http.StatusOK || resp.Msg != "success" {
		t.Fatalf("create: code %d msg %q status %d", resp.Code, resp.Msg, resp.StatusCode)
	}
	if resp.RequestId() == "" {
		t.Error("no X-Tt-Logid header")
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	d := resp.Data
	if !chatIDPattern.MatchString(*d.ChatId) {
		t.Errorf("chat_id = %q, want oc_ + 32 hex", *d.ChatId)
	}
	want := map[string]string{
		"avatar":                   "https://p3-lark-file.byteimg.com/img/lark-avatar-staging/default-avatar_44ae0ca3-e140-494b-956f-78091e348435~100x100.jpg",
		"name":                     "测试群名称",
		"description":              "测试群描述",
		"i18n zh_cn":               "群聊",
		"i18n en_us":               "group chat",
		"i18n ja_jp":               "グループチャット",
		"owner_id":                 ownerOpenID,
		"owner_id_type":            "open_id",
		"urgent_setting":           "all_members",
		"video_conference_setting": "all_members",
		"add_member_permission":    "all_members",
		"share_card_permission":    "allowed",
		"at_all_permission":        "all_members",
		"edit_permission":          "all_members",
		"group_message_type":       "chat",
		"chat_mode":                "group",
		"chat_type":                "private",
		"chat_tag":                 "inner",
		"tenant_key":               demoTenant,
		"join_message_visibility":  "all_members",
		"leave_message_visibility": "all_members",
		"membership_approval":      "no_approval_required",
		"moderation_permission":    "all_members",
		"screenshot":               "all_members",
		"download":                 "all_members",
		"message":                  "all_members",
		"hide_member_count":        "all_members",
	}
	got := map[string]string{
		"avatar": *d.Avatar, "name": *d.Name, "description": *d.Description,
		"i18n zh_cn": *d.I18nNames.ZhCn, "i18n en_us": *d.I18nNames.EnUs, "i18n ja_jp": *d.I18nNames.JaJp,
		"owner_id": *d.OwnerId, "owner_id_type": *d.OwnerIdType,
		"urgent_setting": *d.UrgentSetting, "video_conference_setting": *d.VideoConferenceSetting,
		"add_member_permission": *d.AddMemberPermission, "share_card_permission": *d.ShareCardPermission,
		"at_all_permission": *d.AtAllPermission, "edit_permission": *d.EditPermission,
		"group_message_type": *d.GroupMessageType, "chat_mode": *d.ChatMode, "chat_type": *d.ChatType,
		"chat_tag": *d.ChatTag, "tenant_key": *d.TenantKey,
		"join_message_visibility": *d.JoinMessageVisibility, "leave_message_visibility": *d.LeaveMessageVisibility,
		"membership_approval": *d.MembershipApproval, "moderation_permission": *d.ModerationPermission,
		"screenshot":        *d.RestrictedModeSetting.ScreenshotHasPermissionSetting,
		"download":          *d.RestrictedModeSetting.DownloadHasPermissionSetting,
		"message":           *d.RestrictedModeSetting.MessageHasPermissionSetting,
		"hide_member_count": *d.HideMemberCountSetting,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if *d.External || *d.RestrictedModeSetting.Status {
		t.Errorf("external = %v, restricted status = %v; want false, false", *d.External, *d.RestrictedModeSetting.Status)
	}

	// One core: the admin API shows the same chat, its members and settings.
	c := chatByID(t, srv, *d.ChatId)
	if c.Platform != "feishu" || c.Tenant != demoTenant || c.Name != "测试群名称" || c.Status != "normal" || c.Settings.Visibility != "private" {
		t.Errorf("admin view = %+v", c)
	}
	roles := map[string]string{}
	for _, m := range c.Members {
		if m.Bot != "" {
			roles["bot:"+m.Bot] = m.Role
		} else {
			roles[m.User.UserID] = m.Role
		}
	}
	if len(roles) != 2 || roles["zhangsan"] != "owner" || roles["bot:"+appID] != "member" {
		t.Errorf("members = %v, want zhangsan as owner and the bot as member", roles)
	}
}

// TestCreateGolden compares the raw answer to the seed example, byte for
// byte, with a golden file (chat_id masked). Run with -update to rewrite it.
func TestCreateGolden(t *testing.T) {
	srv := quntest.NewServer(t)
	tok := tenantToken(t, srv, appID)
	r := do(t, "POST", srv.URL+"/open-apis/im/v1/chats?user_id_type=open_id", "Bearer "+tok, seedExample)
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	body := regexp.MustCompile(`"chat_id":"oc_[0-9a-f]{32}"`).ReplaceAll(r.Body, []byte(`"chat_id":"oc_a0553eda9014c201e6969b478895c230"`))
	pretty := golden.JSON(t, filepath.Join("testdata", "create_chat_seed_example.json"), body, "    ")
	// Byte for byte the document's example, keys in its order.
	documented := strings.ReplaceAll(seedAnswer, `"all members"`, `"all_members"`)
	if pretty != documented {
		t.Errorf("answer differs from the document's example:\n%s", pretty)
	}
}

// TestCreateBotOwner: without owner_id the calling bot owns the chat, and
// owner_id/owner_id_type are left out of the answer.
func TestCreateBotOwner(t *testing.T) {
	srv := quntest.NewServer(t)
	tok := tenantToken(t, srv, appID)
	r := do(t, "POST", srv.URL+"/open-apis/im/v1/chats", "Bearer "+tok, `{}`)
	data, _ := r.JSON(t)["data"].(map[string]any)
	if r.Status != 200 || data == nil {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	for _, k := range []string{"owner_id", "owner_id_type"} {
		if _, ok := data[k]; ok {
			t.Errorf("%s present in a bot-owned chat: %s", k, r.Body)
		}
	}
	if data["name"] != "(无主题)" || data["chat_type"] != "private" || data["description"] != "" {
		t.Errorf("defaults: name %v chat_type %v description %q", data["name"], data["chat_type"], data["description"])
	}
	c := chatByID(t, srv, data["chat_id"].(string))
	if len(c.Members) != 1 || c.Members[0].Bot != appID || c.Members[0].Role != "owner" {
		t.Errorf("members = %+v, want only the bot, as owner", c.Members)
	}
}

// TestCreateSetBotManager makes the bot a manager of a user-owned chat.
func TestCreateSetBotManager(t *testing.T) {
	srv := quntest.NewServer(t)
	for _, manager := range []bool{true, false} {
		resp := create(t, srv, appID, larkim.NewCreateChatReqBuilder().SetBotManager(manager).
			Body(larkim.NewCreateChatReqBodyBuilder().OwnerId(ownerOpenID).BotIdList([]string{helperApp}).Build()).Build())
		if !resp.Success() {
			t.Fatalf("code %d %s", resp.Code, resp.Msg)
		}
		roles := map[string]string{}
		for _, m := range chatByID(t, srv, *resp.Data.ChatId).Members {
			if m.Bot != "" {
				roles[m.Bot] = m.Role
			}
		}
		want := "member"
		if manager {
			want = "manager"
		}
		if roles[appID] != want || roles[helperApp] != "member" {
			t.Errorf("set_bot_manager=%v: bot roles %v, want calling bot %s", manager, roles, want)
		}
	}
}

// TestCreateIDTypes names the owner by each user_id_type and gets it back
// in the same type.
func TestCreateIDTypes(t *testing.T) {
	srv := quntest.NewServer(t)
	for _, c := range []struct{ idType, owner string }{
		{"open_id", ownerOpenID},
		{"union_id", ownerUnionID},
		{"user_id", "zhangsan"},
	} {
		resp := create(t, srv, appID, larkim.NewCreateChatReqBuilder().UserIdType(c.idType).
			Body(larkim.NewCreateChatReqBodyBuilder().OwnerId(c.owner).UserIdList([]string{c.owner}).Build()).Build())
		if !resp.Success() {
			t.Errorf("%s: code %d %s", c.idType, resp.Code, resp.Msg)
			continue
		}
		if *resp.Data.OwnerId != c.owner || *resp.Data.OwnerIdType != c.idType {
			t.Errorf("%s: owner %s (%s), want %s", c.idType, *resp.Data.OwnerId, *resp.Data.OwnerIdType, c.owner)
		}
	}
	// open_ids are per app: the helper app knows zhangsan by another one.
	other := openID(t, srv, demoTenant, "zhangsan", helperApp)
	if other == ownerOpenID || !strings.HasPrefix(other, "ou_") || len(other) != 35 {
		t.Errorf("helper app's open_id of zhangsan = %q", other)
	}
}

// TestCreateExternal creates an external chat with a friend of the owner
// from another tenant.
func TestCreateExternal(t *testing.T) {
	srv := quntest.NewServer(t)
	friend := openID(t, srv, partnerTenant, "zhaoliu", appID)
	resp := create(t, srv, appID, larkim.NewCreateChatReqBuilder().
		Body(larkim.NewCreateChatReqBodyBuilder().Name("Partners").OwnerId(ownerOpenID).UserIdList([]string{friend}).Build()).Build())
	if !resp.Success() {
		t.Fatalf("code %d %s", resp.Code, resp.Msg)
	}
	if !*resp.Data.External || resp.Data.ChatTag != nil {
		t.Errorf("external = %v, chat_tag = %v; want true and none", *resp.Data.External, resp.Data.ChatTag)
	}
	c := chatByID(t, srv, *resp.Data.ChatId)
	var tenants []string
	for _, m := range c.Members {
		if m.User != nil {
			tenants = append(tenants, m.User.Tenant)
		}
	}
	if !c.External || len(tenants) != 2 || tenants[0] == tenants[1] {
		t.Errorf("external chat members' tenants = %v", tenants)
	}
}

// errorCase is a request that must fail with a documented code.
type errorCase struct {
	name  string
	app   string
	req   func(t *testing.T, srv *quntest.Server) *larkim.CreateChatReq
	setup func(t *testing.T, srv *quntest.Server)
	code  int
}

func body(b *larkim.CreateChatReqBodyBuilder) func(*testing.T, *quntest.Server) *larkim.CreateChatReq {
	return func(*testing.T, *quntest.Server) *larkim.CreateChatReq {
		return larkim.NewCreateChatReqBuilder().Body(b.Build()).Build()
	}
}

func restricted(status bool, screenshot string) *larkim.RestrictedModeSetting {
	return larkim.NewRestrictedModeSettingBuilder().Status(status).ScreenshotHasPermissionSetting(screenshot).
		DownloadHasPermissionSetting("all_members").MessageHasPermissionSetting("all_members").Build()
}

// TestCreateErrors reaches every error of the document's table that an
// emulated tenant can trigger, through the official SDK.
func TestCreateErrors(t *testing.T) {
	srv := quntest.NewServer(t)
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("user%03d", i+1)
	}
	cases := []errorCase{
		{name: "unknown enum", app: appID, code: 232001, req: body(larkim.NewCreateChatReqBodyBuilder().ChatType("secret"))},
		{name: "unknown user_id_type", app: appID, code: 232001, req: func(*testing.T, *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().UserIdType("email").Body(larkim.NewCreateChatReqBodyBuilder().Build()).Build()
		}},
		{name: "restricted off withholds", app: appID, code: 232001, req: body(larkim.NewCreateChatReqBodyBuilder().RestrictedModeSetting(restricted(false, "not_anyone")))},
		{name: "restricted on withholds nothing", app: appID, code: 232001, req: body(larkim.NewCreateChatReqBodyBuilder().RestrictedModeSetting(restricted(true, "all_members")))},
		{name: "store app with user_id", app: storeApp, code: 232001, req: func(*testing.T, *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().UserIdType("user_id").Body(larkim.NewCreateChatReqBodyBuilder().OwnerId("zhangsan").Build()).Build()
		}},
		{name: "external chat owned by a bot", app: appID, code: 232001, req: func(t *testing.T, srv *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().
				UserIdList([]string{openID(t, srv, partnerTenant, "zhaoliu", appID)}).Build()).Build()
		}},
		{name: "public name too short", app: appID, code: 232020, req: body(larkim.NewCreateChatReqBodyBuilder().ChatType("public").Name("a"))},
		{name: "bot without bot ability", app: appID, code: 232021, req: body(larkim.NewCreateChatReqBodyBuilder().BotIdList([]string{noBotApp}))},
		{name: "bot of a disabled app", app: appID, code: 232021, req: body(larkim.NewCreateChatReqBodyBuilder().BotIdList([]string{disabledApp}))},
		{name: "resigned user", app: appID, code: 232022, req: func(*testing.T, *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().UserIdType("user_id").Body(larkim.NewCreateChatReqBodyBuilder().UserIdList([]string{"lisi", "wangwu"}).Build()).Build()
		}},
		{name: "resigned owner", app: appID, code: 232022, req: func(*testing.T, *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().UserIdType("user_id").Body(larkim.NewCreateChatReqBodyBuilder().OwnerId("wangwu").Build()).Build()
		}},
		{name: "blocked word in name", app: appID, code: 232023, req: body(larkim.NewCreateChatReqBodyBuilder().Name("讨论违禁词的群"))},
		{name: "blocked word in description", app: appID, code: 232023, req: body(larkim.NewCreateChatReqBodyBuilder().Description("a forbidden-word here"))},
		{name: "app without bot ability", app: noBotApp, code: 232025, req: body(larkim.NewCreateChatReqBodyBuilder())},
		{name: "unknown owner", app: appID, code: 232030, req: body(larkim.NewCreateChatReqBodyBuilder().OwnerId("ou_00000000000000000000000000000000"))},
		{name: "owner of another tenant", app: appID, code: 232032, req: func(t *testing.T, srv *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().OwnerId(openID(t, srv, partnerTenant, "zhaoliu", appID)).Build()).Build()
		}},
		{name: "external without permission", app: innerApp, code: 232033, req: func(t *testing.T, srv *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().
				OwnerId(openID(t, srv, demoTenant, "zhangsan", innerApp)).
				UserIdList([]string{openID(t, srv, partnerTenant, "zhaoliu", innerApp)}).Build()).Build()
		}},
		{name: "external flag without permission", app: innerApp, code: 232033, req: func(t *testing.T, srv *quntest.Server) *larkim.CreateChatReq {
			external := true
			return larkim.NewCreateChatReqBuilder().Body(&larkim.CreateChatReqBody{
				OwnerId: str(openID(t, srv, demoTenant, "zhangsan", innerApp)), External: &external}).Build()
		}},
		{name: "app disabled in the tenant", app: disabledApp, code: 232034, req: body(larkim.NewCreateChatReqBodyBuilder())},
		{name: "labels without scope", app: innerApp, code: 232037, req: func(*testing.T, *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().Body(&larkim.CreateChatReqBody{Labels: []string{"vip"}}).Build()
		}},
		{name: "public without name", app: appID, code: 232042, req: body(larkim.NewCreateChatReqBodyBuilder().ChatType("public"))},
		{name: "unknown user", app: appID, code: 232043, req: body(larkim.NewCreateChatReqBodyBuilder().UserIdList([]string{ownerOpenID, "ou_00000000000000000000000000000000"}))},
		{name: "unknown bot", app: appID, code: 232043, req: body(larkim.NewCreateChatReqBodyBuilder().BotIdList([]string{"cli_0000000000000000"}))},
		{name: "external user not a friend", app: appID, code: 232043, req: func(t *testing.T, srv *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().OwnerId(ownerOpenID).
				UserIdList([]string{openID(t, srv, partnerTenant, "sunqi", appID)}).Build()).Build()
		}},
		{name: "restricted mode not in edition", app: lockedApp, code: 232057, req: body(larkim.NewCreateChatReqBodyBuilder().RestrictedModeSetting(restricted(true, "not_anyone")))},
		{name: "public external chat", app: appID, code: 232069, req: func(t *testing.T, srv *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().Name("Open partners").ChatType("public").
				OwnerId(ownerOpenID).UserIdList([]string{openID(t, srv, partnerTenant, "zhaoliu", appID)}).Build()).Build()
		}},
		{name: "hide member count not in edition", app: lockedApp, code: 232078, req: body(larkim.NewCreateChatReqBodyBuilder().HideMemberCountSetting("only_owner"))},
		{name: "hide member count of a public chat", app: appID, code: 232079, req: body(larkim.NewCreateChatReqBodyBuilder().Name("Open").ChatType("public").HideMemberCountSetting("only_owner"))},
		{name: "public chats forbidden", app: lockedApp, code: 232091, req: body(larkim.NewCreateChatReqBodyBuilder().Name("Open").ChatType("public"))},
		{name: "no im scope", app: noScopeApp, code: 99991672, req: body(larkim.NewCreateChatReqBodyBuilder())},
		{name: "another app's open_id", app: appID, code: 99992361, req: func(t *testing.T, srv *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().
				UserIdList([]string{openID(t, srv, demoTenant, "lisi", helperApp)}).Build()).Build()
		}},
		{name: "51 users", app: appID, code: 99992402, req: func(*testing.T, *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().UserIdType("user_id").Body(larkim.NewCreateChatReqBodyBuilder().UserIdList(many).Build()).Build()
		}},
		{name: "6 bots", app: appID, code: 99992402, req: body(larkim.NewCreateChatReqBodyBuilder().BotIdList([]string{"a", "b", "c", "d", "e", "f"}))},
		{name: "uuid of 51 characters", app: appID, code: 99992402, req: func(*testing.T, *quntest.Server) *larkim.CreateChatReq {
			return larkim.NewCreateChatReqBuilder().Uuid(strings.Repeat("u", 51)).Body(larkim.NewCreateChatReqBodyBuilder().Build()).Build()
		}},
		{name: "app deleted after its token was issued", app: helperApp, code: 232004,
			setup: func(t *testing.T, srv *quntest.Server) {
				// The SDK client is created before the deletion and caches
				// its token on this first, successful call.
				if err := srv.Admin("DELETE", "/admin/v1/apps/feishu/"+helperApp, nil, nil); err != nil {
					t.Fatal(err)
				}
			},
			req: body(larkim.NewCreateChatReqBodyBuilder())},
	}
	documented := map[int]string{
		232001:   "Your request contains an invalid request parameter.",
		232004:   "Such an app does NOT exist.",
		232020:   "Name can NOT be less than two characters for public chats.",
		232021:   "Bot can NOT be found.",
		232022:   "User has already resigned.",
		232023:   "Chat information review failed while updating the chat.",
		232025:   "Bot ability is not activated.",
		232030:   "Your request specifies a user_id which is invalid.",
		232032:   "The operator who will create the chat and the designated chat owner must be in the same tenant.",
		232033:   "The operator or invited bots does NOT have the authority to manage external chats without the scope.",
		232034:   "The app is unavailable or inactivated by the tenant.",
		232037:   "The operator or invited bots does NOT have the authority to manage chat labels without the scope.",
		232042:   "Public group chat's name should not be empty.",
		232043:   "Your request contains unavailable ids.",
		232057:   "The operator tenant doesn't have the permission to use restricted mode.",
		232069:   "current chat type unsupported to set public.",
		232078:   "The operator tenant doesn't have the permission to use hide_member_count_setting.",
		232079:   "Chat type not supported by hide_member_count_setting.",
		232091:   "Due to the security control requirements of this tenant, this tenant does not allow public group.",
		99992402: "field validation failed",
	}
	before := len(chats(t, srv))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cli := client(srv, c.app)
			if c.setup != nil {
				if resp, err := cli.Im.V1.Chat.Create(ctx, larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().Build()).Build()); err != nil || !resp.Success() {
					t.Fatalf("warm-up create failed: %v %+v", err, resp)
				}
				before++
				c.setup(t, srv)
			}
			resp, err := cli.Im.V1.Chat.Create(ctx, c.req(t, srv))
			if err != nil {
				t.Fatalf("transport error: %v", err)
			}
			if resp.Code != c.code || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("code %d (HTTP %d) %q, want %d (HTTP 400); error %+v", resp.Code, resp.StatusCode, resp.Msg, c.code, resp.Err)
			}
			if msg, ok := documented[c.code]; ok && resp.Msg != msg {
				t.Errorf("msg = %q, want %q", resp.Msg, msg)
			}
			if resp.Err == nil || resp.Err.LogID == "" || resp.Err.LogID != resp.RequestId() {
				t.Errorf("error.log_id %+v does not match X-Tt-Logid %q", resp.Err, resp.RequestId())
			}
		})
	}
	if after := len(chats(t, srv)); after != before {
		t.Errorf("%d chats created by failing requests", after-before)
	}
}

// TestCreateErrorDetails checks what an error answer says besides its code.
func TestCreateErrorDetails(t *testing.T) {
	srv := quntest.NewServer(t)
	resp := create(t, srv, noScopeApp, larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().Build()).Build())
	var subjects []string
	for _, v := range resp.Err.PermissionViolations {
		subjects = append(subjects, v.Subject)
	}
	if strings.Join(subjects, ",") != "im:chat,im:chat:create" || !strings.Contains(resp.Msg, "im:chat") {
		t.Errorf("99991672: msg %q, permission_violations %v", resp.Msg, subjects)
	}
	resp = create(t, srv, appID, larkim.NewCreateChatReqBuilder().Body(larkim.NewCreateChatReqBodyBuilder().
		UserIdList([]string{"ou_00000000000000000000000000000000"}).ChatType("public").Name("ok").Build()).Build())
	if resp.Code != 232043 || len(resp.Err.FieldViolations) != 1 || resp.Err.FieldViolations[0].Value != "ou_00000000000000000000000000000000" {
		t.Errorf("232043 does not name the ID: %+v", resp.Err)
	}
}

// TestCreateMalformed sends what the SDK cannot: broken JSON, wrong types,
// oversize bodies. Each is 232001 in Feishu's envelope, never a 500.
func TestCreateMalformed(t *testing.T) {
	srv := quntest.NewServer(t)
	tok := "Bearer " + tenantToken(t, srv, appID)
	cases := []struct {
		name, query, body, field string
	}{
		{"truncated", "", `{"name":`, "body"},
		{"not JSON", "", `name=x`, "body"},
		{"array", "", `[]`, "body"},
		{"string for a string list", "", `{"user_id_list":"ou_x"}`, "user_id_list"},
		{"number for a string", "", `{"name":123}`, "name"},
		{"string for a boolean", "", `{"restricted_mode_setting":{"status":"yes"}}`, "restricted_mode_setting.status"},
		{"object for i18n string", "", `{"i18n_names":{"zh_cn":{}}}`, "i18n_names.zh_cn"},
		{"trailing data", "", `{} {}`, "body"},
		{"unknown enum", "", `{"join_message_visibility":"everyone"}`, "join_message_visibility"},
		{"bad set_bot_manager", "?set_bot_manager=maybe", `{}`, "set_bot_manager"},
		{"bad user_id_type", "?user_id_type=email", `{}`, "user_id_type"},
		{"oversize body", "", `{"description":"` + strings.Repeat("x", 2<<20) + `"}`, "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, "POST", srv.URL+"/open-apis/im/v1/chats"+c.query, tok, c.body)
			m := r.JSON(t)
			if r.Status != 400 || m["code"] != float64(232001) {
				t.Fatalf("HTTP %d %s, want 400 and 232001", r.Status, r.Body)
			}
			if r.Header.Get("Content-Type") != "application/json; charset=utf-8" || r.Header.Get("X-Tt-Logid") == "" {
				t.Errorf("headers %v", r.Header)
			}
			detail, _ := m["error"].(map[string]any)
			fv, _ := detail["field_violations"].([]any)
			if len(fv) == 0 || fv[0].(map[string]any)["field"] != c.field {
				t.Errorf("field_violations = %v, want field %s", fv, c.field)
			}
		})
	}
}

// TestCreateDedupe: the same uuid and owner create one chat; another uuid or
// owner creates another; after 10 hours the uuid creates again.
func TestCreateDedupe(t *testing.T) {
	clk := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithClock(clk.Now))
	mk := func(uuid, owner string) string {
		t.Helper()
		b := larkim.NewCreateChatReqBodyBuilder().Name("dedupe")
		if owner != "" {
			b.OwnerId(owner)
		}
		resp := create(t, srv, appID, larkim.NewCreateChatReqBuilder().Uuid(uuid).Body(b.Build()).Build())
		if !resp.Success() {
			t.Fatalf("code %d %s", resp.Code, resp.Msg)
		}
		return *resp.Data.ChatId
	}
	first := mk("b13g2t38-1jd2-458b-8djf-dtbca5104204", ownerOpenID)
	if again := mk("b13g2t38-1jd2-458b-8djf-dtbca5104204", ownerOpenID); again != first {
		t.Errorf("same uuid and owner: %s, want %s", again, first)
	}
	if other := mk("another-uuid", ownerOpenID); other == first {
		t.Error("another uuid returned the same chat")
	}
	if botOwned := mk("b13g2t38-1jd2-458b-8djf-dtbca5104204", ""); botOwned == first {
		t.Error("same uuid with another owner returned the same chat")
	}
	if noUUID1, noUUID2 := mk("", ownerOpenID), mk("", ownerOpenID); noUUID1 == noUUID2 {
		t.Error("requests without uuid were deduplicated")
	}
	if n := len(chats(t, srv)); n != 5 {
		t.Errorf("%d chats, want 5", n)
	}
	clk.Advance(9*time.Hour + 59*time.Minute)
	if again := mk("b13g2t38-1jd2-458b-8djf-dtbca5104204", ownerOpenID); again != first {
		t.Errorf("within 10 hours: %s, want %s", again, first)
	}
	clk.Advance(2 * time.Minute)
	if later := mk("b13g2t38-1jd2-458b-8djf-dtbca5104204", ownerOpenID); later == first {
		t.Error("after 10 hours the uuid still returned the first chat")
	}
}

// TestCreateDedupeConcurrent: 20 identical requests at once create one chat.
func TestCreateDedupeConcurrent(t *testing.T) {
	srv := quntest.NewServer(t)
	cli := client(srv, appID)
	// Fetch the token once so the 20 calls race on the create only.
	if resp, err := cli.Im.V1.Chat.Create(ctx, larkim.NewCreateChatReqBuilder().Body(seedBody(t)).Build()); err != nil || !resp.Success() {
		t.Fatalf("warm-up: %v %+v", err, resp)
	}
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := cli.Im.V1.Chat.Create(ctx, larkim.NewCreateChatReqBuilder().Uuid("concurrent-uuid").Body(seedBody(t)).Build())
			if err != nil || !resp.Success() {
				t.Errorf("call %d: %v %+v", i, err, resp)
				return
			}
			ids[i] = *resp.Data.ChatId
		}()
	}
	wg.Wait()
	for i, id := range ids {
		if id != ids[0] {
			t.Fatalf("call %d got %s, call 0 got %s", i, id, ids[0])
		}
	}
	if n := len(chats(t, srv)); n != 2 {
		t.Errorf("%d chats, want 2 (warm-up and the deduplicated one)", n)
	}
}

// TestCreateSurvivesRestart: a created chat is in the database after the
// node restarts.
func TestCreateSurvivesRestart(t *testing.T) {
	srv := quntest.NewServer(t)
	resp := create(t, srv, appID, larkim.NewCreateChatReqBuilder().Uuid("restart").Body(seedBody(t)).Build())
	if !resp.Success() {
		t.Fatalf("code %d %s", resp.Code, resp.Msg)
	}
	id := *resp.Data.ChatId
	srv.Restart()
	if c := chatByID(t, srv, id); c.Name != "测试群名称" || len(c.Members) != 2 {
		t.Errorf("after restart: %+v", c)
	}
	// The dedupe record survived too.
	again := create(t, srv, appID, larkim.NewCreateChatReqBuilder().Uuid("restart").Body(seedBody(t)).Build())
	if !again.Success() || *again.Data.ChatId != id {
		t.Errorf("after restart the uuid created %v, want %s", again.Data, id)
	}
}
