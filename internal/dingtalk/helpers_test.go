package dingtalk_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	im "github.com/alibabacloud-go/dingtalk/im_1_0"
	oauth2 "github.com/alibabacloud-go/dingtalk/oauth2_1_0"
	robot "github.com/alibabacloud-go/dingtalk/robot_1_0"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/qunhq/qun/quntest"
)

// The demo directory's DingTalk identities (internal/fixtures/demo.yaml).
const (
	corpID       = "ding4c0a1f36e2b8d957"
	appKey       = "dingqundemo"
	appSecret    = "demo-dingtalk-secret"
	standardApp  = "dingqunstandard"
	narrowApp    = "dingqunnarrow"
	readerApp    = "dingqunreader"
	seedOwner    = "manager4220"
	seedMember   = "userId"
	seedExternal = "unionId"
)

var secrets = map[string]string{
	appKey:      appSecret,
	standardApp: "demo-dingtalk-standard-secret",
	narrowApp:   "demo-dingtalk-narrow-secret",
	readerApp:   "demo-dingtalk-reader-secret",
}

// config points the official SDK at srv: host:port as Endpoint, plain HTTP.
func config(srv *quntest.Server) *openapi.Config {
	return &openapi.Config{Protocol: tea.String("http"), Endpoint: tea.String(srv.Host)}
}

// token gets an app's access token through the SDK's oauth2_1_0 client.
func token(t *testing.T, srv *quntest.Server, app string) string {
	t.Helper()
	oc, err := oauth2.NewClient(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := oc.GetAccessToken(&oauth2.GetAccessTokenRequest{AppKey: tea.String(app), AppSecret: tea.String(secrets[app])})
	if err != nil {
		t.Fatalf("token for %s: %v", app, err)
	}
	return tea.StringValue(resp.Body.AccessToken)
}

// client is an im_1_0 client with the app's token.
type client struct {
	*im.Client
	app, token string
}

func newClient(t *testing.T, srv *quntest.Server, app string) client {
	t.Helper()
	// The SDK honours HTTP_PROXY even for loopback addresses.
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
	ic, err := im.NewClient(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	return client{Client: ic, app: app, token: token(t, srv, app)}
}

var rt = &util.RuntimeOptions{}

func (c client) create(req *im.CreateGroupRequest) (*im.CreateGroupResponse, error) {
	return c.CreateGroupWithOptions(req, &im.CreateGroupHeaders{XAcsDingtalkAccessToken: tea.String(c.token)}, rt)
}

func (c client) update(req *im.UpdateGroupRequest) (*im.UpdateGroupResponse, error) {
	return c.UpdateGroupWithOptions(req, &im.UpdateGroupHeaders{XAcsDingtalkAccessToken: tea.String(c.token)}, rt)
}

func (c client) convert(chatID string) (*im.ChatIdToOpenConversationIdResponse, error) {
	return c.ChatIdToOpenConversationIdWithOptions(tea.String(chatID), &im.ChatIdToOpenConversationIdHeaders{XAcsDingtalkAccessToken: tea.String(c.token)}, rt)
}

func (c client) subAdmins(cid string, role int32, users ...string) (*im.ChatSubAdminUpdateResponse, error) {
	return c.ChatSubAdminUpdateWithOptions(&im.ChatSubAdminUpdateRequest{OpenConversationId: tea.String(cid), Role: tea.Int32(role), UserIds: tea.StringSlice(users)},
		&im.ChatSubAdminUpdateHeaders{XAcsDingtalkAccessToken: tea.String(c.token)}, rt)
}

// seedRequest is the document's request example.
func seedRequest() *im.CreateGroupRequest {
	return &im.CreateGroupRequest{
		Name:            tea.String("Test Group"),
		Owner:           tea.String("manager4220"),
		OwnerType:       tea.String("emp"),
		Useridlist:      []*string{tea.String("userId")},
		ConversationTag: tea.Int64(2),
		Extidlist:       []*string{tea.String("unionId")},
		Icon:            tea.String("@mediaId"),
		ManagementOptions: &im.CreateGroupRequestManagementOptions{
			MentionAllAuthority: tea.Int32(0),
			ShowHistoryType:     tea.Int32(0),
			ValidationType:      tea.Int32(0),
			Searchable:          tea.Int32(0),
			ChatBannedType:      tea.Int32(0),
			ManagementType:      tea.Int32(0),
		},
	}
}

// wantSDKError checks that err is the SDK's error for an HTTP status and
// code (and message, when given).
func wantSDKError(t *testing.T, what string, err error, status int, code string, message ...string) {
	t.Helper()
	var se *tea.SDKError
	if !errors.As(err, &se) {
		t.Errorf("%s: %T %v, want *tea.SDKError %s", what, err, err, code)
		return
	}
	if tea.IntValue(se.StatusCode) != status || tea.StringValue(se.Code) != code {
		t.Errorf("%s: HTTP %d %s (%s), want HTTP %d %s", what, tea.IntValue(se.StatusCode), tea.StringValue(se.Code), tea.StringValue(se.Message), status, code)
		return
	}
	if !strings.Contains(tea.StringValue(se.Message), "request id: ") || strings.Contains(tea.StringValue(se.Message), "<nil>") {
		t.Errorf("%s: message %q lacks the request id", what, tea.StringValue(se.Message))
	}
	if len(message) > 0 && !strings.Contains(tea.StringValue(se.Message), message[0]) {
		t.Errorf("%s: message %q, want it to say %q", what, tea.StringValue(se.Message), message[0])
	}
}

// adminChat is a chat as the admin API shows it.
type adminChat struct {
	ChatID         string `json:"chat_id"`
	ConversationID string `json:"conversation_id"`
	Platform       string `json:"platform"`
	Tenant         string `json:"tenant"`
	Class          string `json:"class"`
	Name           string `json:"name"`
	Avatar         string `json:"avatar"`
	Creator        string `json:"creator_app"`
	Settings       struct {
		Visibility       string `json:"visibility"`
		HistoryVisible   bool   `json:"history_visible"`
		ApprovalRequired bool   `json:"approval_required"`
		WhoCanMentionAll string `json:"who_can_mention_all"`
		WhoCanSpeak      string `json:"who_can_speak"`
		WhoCanEdit       string `json:"who_can_edit"`
	} `json:"settings"`
	Members []struct {
		Role string `json:"role"`
		User *struct {
			UserID string `json:"user_id"`
		} `json:"user"`
		Bot string `json:"bot"`
	} `json:"members"`
}

func chat(t *testing.T, srv *quntest.Server, id string) adminChat {
	t.Helper()
	var c adminChat
	if err := srv.Admin("GET", "/admin/v1/chats/"+id, nil, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// roles maps the chat's members to their roles.
func (c adminChat) roles() map[string]string {
	out := map[string]string{}
	for _, m := range c.Members {
		if m.User != nil {
			out[m.User.UserID] = m.Role
		} else {
			out["bot:"+m.Bot] = m.Role
		}
	}
	return out
}

// legacy calls a legacy API and decodes its answer, which must be HTTP 200.
func legacy(t *testing.T, srv *quntest.Server, method, path string, query url.Values, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path+"?"+query.Encode(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: HTTP %d, legacy APIs always answer 200: %s", method, path, resp.StatusCode, raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
	return m
}

// addRobot puts the app's robot into a group with the official robot_1_0
// client.
func addRobot(t *testing.T, srv *quntest.Server, c client, cid string) {
	t.Helper()
	rc, err := robot.NewClient(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.AddOrgRobotInstanceToGroupWithOptions(&robot.AddOrgRobotInstanceToGroupRequest{OpenConversationId: tea.String(cid), RobotCode: tea.String(c.app)},
		&robot.AddOrgRobotInstanceToGroupHeaders{XAcsDingtalkAccessToken: tea.String(c.token)}, rt); err != nil {
		t.Fatalf("add the robot: %v", err)
	}
}
