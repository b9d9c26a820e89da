package dingtalk_test

import (
	"strings"
	"testing"

	robot "github.com/alibabacloud-go/dingtalk/robot_1_0"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/qunhq/qun/quntest"
)

// TestRobotGroupMessages: with the official robot_1_0 client, the app
// puts its robot into a group it created and sends from it; the admin API
// lists what the robot said; sending before the robot is in, with a bad
// template or parameters, or to a disbanded group fails with DingTalk's
// codes.
func TestRobotGroupMessages(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	demo := newClient(t, srv, appKey)
	rc, err := robot.NewClient(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	cid := resp.Body.OpenConversationId
	send := func(key, param string) (*robot.OrgGroupSendResponse, error) {
		return rc.OrgGroupSendWithOptions(&robot.OrgGroupSendRequest{OpenConversationId: cid, RobotCode: tea.String(appKey), MsgKey: tea.String(key), MsgParam: tea.String(param)},
			&robot.OrgGroupSendHeaders{XAcsDingtalkAccessToken: tea.String(demo.token)}, rt)
	}
	_, err = send("sampleText", `{"content":"hello"}`)
	wantSDKError(t, "before the robot is in", err, 400, "robot.notInGroup")
	add, err := rc.AddOrgRobotInstanceToGroupWithOptions(&robot.AddOrgRobotInstanceToGroupRequest{OpenConversationId: cid, RobotCode: tea.String(appKey)},
		&robot.AddOrgRobotInstanceToGroupHeaders{XAcsDingtalkAccessToken: tea.String(demo.token)}, rt)
	if err != nil || !tea.BoolValue(add.Body.Result) {
		t.Fatalf("add the robot: %v %+v", err, add)
	}
	sent, err := send("sampleText", `{"content":"hello"}`)
	if err != nil || tea.StringValue(sent.Body.ProcessQueryKey) == "" {
		t.Fatalf("send: %v %+v", err, sent)
	}
	if _, err := send("sampleMarkdown", `{"title":"T","text":"**bold**"}`); err != nil {
		t.Fatalf("markdown: %v", err)
	}
	msgs, err := srv.Messages(tea.StringValue(resp.Body.Chatid))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].SenderApp != appKey || msgs[0].Type != "sampleText" || msgs[0].Content != `{"content":"hello"}` || msgs[0].MessageID != tea.StringValue(sent.Body.ProcessQueryKey) {
		t.Errorf("messages %+v", msgs)
	}
	for _, c := range []struct {
		name, key, param, code string
	}{
		{"unknown msgKey", "sampleHologram", `{}`, "invalidParameter.msgKey.invalid"},
		{"msgParam not JSON", "sampleText", `hello`, "invalidParameter.msgParam.invalid"},
		{"msgParam without content", "sampleText", `{"text":"x"}`, "invalidParameter.msgParam.invalid"},
		{"msgParam too long", "sampleText", `{"content":"` + strings.Repeat("x", 15000) + `"}`, "invalidParameter.msgParam.tooLong"},
	} {
		_, err := send(c.key, c.param)
		wantSDKError(t, c.name, err, 400, c.code)
	}
	if _, err := rc.OrgGroupSendWithOptions(&robot.OrgGroupSendRequest{OpenConversationId: cid, RobotCode: tea.String("dingsomeoneelse"), MsgKey: tea.String("sampleText"), MsgParam: tea.String(`{"content":"x"}`)},
		&robot.OrgGroupSendHeaders{XAcsDingtalkAccessToken: tea.String(demo.token)}, rt); err == nil {
		t.Error("another robot's code was accepted")
	} else {
		wantSDKError(t, "another robot", err, 400, "invalidParameter.robotCode.notExsit")
	}
	if err := srv.Admin("POST", "/admin/v1/simulate", map[string]any{"chat_id": tea.StringValue(resp.Body.Chatid), "user": seedOwner, "action": "dissolve"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = send("sampleText", `{"content":"late"}`)
	wantSDKError(t, "disbanded group", err, 400, "group.disbanded")
}
