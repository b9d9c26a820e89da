package dingtalk_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	robot "github.com/alibabacloud-go/dingtalk/robot_1_0"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/qunhq/qun/quntest"
)

// TestRobotGroupMessages: with the official robot_1_0 client, the app
// puts its robot into a group it created, sends from it, reads who has
// read a message and recalls messages; the admin API lists what the robot
// said; sending before the robot is in, with a bad template or
// parameters, or to a disbanded group fails with DingTalk's codes.
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
	// Read receipts: a member who posts after the message has read it.
	key := sent.Body.ProcessQueryKey
	query := func(key *string) (*robot.OrgGroupQueryResponse, error) {
		return rc.OrgGroupQueryWithOptions(&robot.OrgGroupQueryRequest{OpenConversationId: cid, RobotCode: tea.String(appKey), ProcessQueryKey: key},
			&robot.OrgGroupQueryHeaders{XAcsDingtalkAccessToken: tea.String(demo.token)}, rt)
	}
	q, err := query(key)
	if err != nil || tea.StringValue(q.Body.SendStatus) != "SUCCESS" || len(q.Body.ReadUserIds) != 0 {
		t.Fatalf("query before anyone read: %v %+v", err, q)
	}
	if _, err := srv.Post(tea.StringValue(resp.Body.Chatid), seedMember, `{"content":"seen it"}`); err != nil {
		t.Fatal(err)
	}
	q, err = query(key)
	if err != nil || len(q.Body.ReadUserIds) != 1 || tea.StringValue(q.Body.ReadUserIds[0]) != seedMember ||
		len(q.Body.ReadUsers) != 1 || tea.StringValue(q.Body.ReadUsers[0].UserId) != seedMember || tea.StringValue(q.Body.ReadUsers[0].UnionId) == "" {
		t.Fatalf("query after a member posted: %v %+v", err, q)
	}
	_, err = query(tea.String("msgnosuchkey"))
	wantSDKError(t, "query an unknown key", err, 400, "invalid.processQueryKey")
	_, err = query(nil)
	wantSDKError(t, "query without a key", err, 400, "invalidParameter.processQueryKey.missing")
	// Recall: each key is recalled or failed on its own.
	recall := func(keys ...*string) (*robot.OrgGroupRecallResponse, error) {
		return rc.OrgGroupRecallWithOptions(&robot.OrgGroupRecallRequest{OpenConversationId: cid, RobotCode: tea.String(appKey), ProcessQueryKeys: keys},
			&robot.OrgGroupRecallHeaders{XAcsDingtalkAccessToken: tea.String(demo.token)}, rt)
	}
	rec, err := recall(key, tea.String("msgnosuchkey"))
	if err != nil || len(rec.Body.SuccessResult) != 1 || tea.StringValue(rec.Body.SuccessResult[0]) != tea.StringValue(key) ||
		tea.StringValue(rec.Body.FailedResult["msgnosuchkey"]) != "INVALID_PROCESS_QUERY_KEY" {
		t.Fatalf("recall: %v %+v", err, rec)
	}
	rec, err = recall(key)
	if err != nil || len(rec.Body.SuccessResult) != 0 || tea.StringValue(rec.Body.FailedResult[tea.StringValue(key)]) != "MESSAGE_RECALLED" {
		t.Fatalf("recall twice: %v %+v", err, rec)
	}
	_, err = recall()
	wantSDKError(t, "recall nothing", err, 400, "invalidParameter.processQueryKey.missing")
	if msgs, err := srv.Messages(tea.StringValue(resp.Body.Chatid)); err != nil || !msgs[0].Recalled || msgs[1].Recalled {
		t.Errorf("after the recall: %v %+v", err, msgs)
	}
	if err := srv.Admin("POST", "/admin/v1/simulate", map[string]any{"chat_id": tea.StringValue(resp.Body.Chatid), "user": seedOwner, "action": "dissolve"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = send("sampleText", `{"content":"late"}`)
	wantSDKError(t, "disbanded group", err, 400, "group.disbanded")
}

// TestMutedGroup: in a group with chatBannedType 1 only the owner and
// the sub-administrators speak: a member's post is refused; the robot of
// the app that manages the group still sends, as the group's operator.
func TestMutedGroup(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	demo := newClient(t, srv, appKey)
	req := seedRequest()
	req.ManagementOptions.ChatBannedType = tea.Int32(1)
	resp, err := demo.create(req)
	if err != nil {
		t.Fatal(err)
	}
	id, cid := tea.StringValue(resp.Body.Chatid), tea.StringValue(resp.Body.OpenConversationId)
	addRobot(t, srv, demo, cid)
	if _, err := srv.Post(id, seedMember, `{"content":"may I?"}`); err == nil || !strings.Contains(err.Error(), "only the owner and managers") {
		t.Errorf("a member in a muted group: %v", err)
	}
	if _, err := srv.Post(id, seedOwner, `{"content":"the owner speaks"}`); err != nil {
		t.Errorf("the owner in a muted group: %v", err)
	}
	rc, err := robot.NewClient(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.OrgGroupSendWithOptions(&robot.OrgGroupSendRequest{OpenConversationId: tea.String(cid), RobotCode: tea.String(appKey), MsgKey: tea.String("sampleText"), MsgParam: tea.String(`{"content":"the robot speaks"}`)},
		&robot.OrgGroupSendHeaders{XAcsDingtalkAccessToken: tea.String(demo.token)}, rt); err != nil {
		t.Errorf("the managing app's robot in a muted group: %v", err)
	}
}

// TestRobotSendRateLimit: groupMessages/send over the app's limit answers
// 403 Forbidden.AccessDenied.QpsLimitForAppkeyAndApi through robot_1_0.
func TestRobotSendRateLimit(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithRateLimits(quntest.DingTalk, quntest.Limit{N: 2, Per: time.Minute}))
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	cid := tea.StringValue(resp.Body.OpenConversationId)
	addRobot(t, srv, demo, cid)
	rc, err := robot.NewClient(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	send := func() error {
		_, err := rc.OrgGroupSendWithOptions(&robot.OrgGroupSendRequest{OpenConversationId: tea.String(cid), RobotCode: tea.String(appKey), MsgKey: tea.String("sampleText"), MsgParam: tea.String(`{"content":"x"}`)},
			&robot.OrgGroupSendHeaders{XAcsDingtalkAccessToken: tea.String(demo.token)}, rt)
		return err
	}
	for i := range 2 {
		if err := send(); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	wantSDKError(t, "third send", send(), 403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")
}

// TestFaults: the official clients see injected faults as DingTalk's
// errors: the new APIs a 403 QpsLimit through im_1_0, the legacy ones
// errcode 90018 with HTTP 200.
func TestFaults(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithoutEventDelivery())
	demo := newClient(t, srv, appKey)
	for _, rule := range []map[string]any{
		{"platform": "dingtalk", "app": appKey, "path": "/v1.0/im/group/create", "times": 1, "error": "rate_limited"},
		{"platform": "dingtalk", "path": "/chat/get", "times": 1, "error": "rate_limited"},
	} {
		if err := srv.Admin("POST", "/admin/v1/faults", rule, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := demo.create(seedRequest())
	wantSDKError(t, "an injected QPS limit", err, 403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatalf("the next create: %v", err)
	}
	out := legacy(t, srv, "GET", "/chat/get", url.Values{"access_token": {demo.token}, "chatid": {tea.StringValue(resp.Body.Chatid)}}, "")
	if out["errcode"] != float64(90018) {
		t.Errorf("an injected legacy limit: %v", out)
	}
	if out := legacy(t, srv, "GET", "/chat/get", url.Values{"access_token": {demo.token}, "chatid": {tea.StringValue(resp.Body.Chatid)}}, ""); out["errcode"] != float64(0) {
		t.Errorf("the next legacy call: %v", out)
	}
}
