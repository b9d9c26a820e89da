//go:build !race

// The tests in this file run the official Stream SDK, which answers each
// frame on a goroutine of its own and writes the answers to its socket
// without synchronising them (client.processDataFrame →
// SendDataFrameResponse, v0.9.1): the race detector reports that race in
// the SDK, whatever qun does (qun sends a connection one frame at a time).
// They run in the suite's normal pass; qun's side of Stream runs under the
// race detector in TestStreamBadInput.

package dingtalk_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	im "github.com/alibabacloud-go/dingtalk/im_1_0"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/qunhq/qun/quntest"
)

// TestStreamEvents: the official Stream SDK, pointed at qun with
// WithOpenApiHost, receives the group events of a group its app created,
// from the API and from users in the client.
func TestStreamEvents(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	g := newGot()
	stream(t, srv, appKey, g)
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	id := tea.StringValue(resp.Body.Chatid)
	steps := []*im.UpdateGroupRequest{
		{Chatid: tea.String(id), AddUseridlist: tea.StringSlice([]string{"lisi", "user001"})},
		{Chatid: tea.String(id), Name: tea.String("Renamed")},
		{Chatid: tea.String(id), Owner: tea.String("lisi")},
		{Chatid: tea.String(id), DelUseridlist: tea.StringSlice([]string{"user001"})},
	}
	for _, s := range steps {
		if _, err := demo.update(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []map[string]any{
		{"chat_id": id, "user": "userId", "action": "leave"},
		{"chat_id": id, "user": "lisi", "action": "dissolve"},
	} {
		if err := srv.Admin("POST", "/admin/v1/simulate", a, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"chat_add_member userId=lisi,user001 operator=",
		"chat_update_title userId= operator= title=Renamed",
		"chat_update_owner userId= operator= owner=lisi",
		"chat_remove_member userId=user001 operator=",
		"chat_quit userId=userId operator=userId",
		"chat_disband userId= operator=lisi",
	}
	// Deliveries run in parallel, in no promised order (as on DingTalk).
	lines := g.wait(t, len(want))
	sort.Strings(lines)
	sort.Strings(want)
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, h := range g.headers {
		if h.EventCorpId != corpID || h.EventUnifiedAppId != appKey || len(h.EventId) != 32 || h.EventBornTime == 0 {
			t.Errorf("header %+v", h)
		}
	}
	g.quiet(t, len(want))
}

// TestStreamLater: a handler answering LATER gets the event again, with
// the same eventId, after the retry wait (10 s) under the test clock.
func TestStreamLater(t *testing.T) {
	clock := quntest.NewClock()
	srv := quntest.NewServer(t, quntest.WithoutRateLimits(), quntest.WithClock(clock.Now))
	g := newGot()
	g.later = 1
	stream(t, srv, appKey, g)
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.update(&im.UpdateGroupRequest{Chatid: resp.Body.Chatid, AddUseridlist: tea.StringSlice([]string{"lisi"})}); err != nil {
		t.Fatal(err)
	}
	g.wait(t, 1)
	waitAttempts(t, srv, tea.StringValue(resp.Body.Chatid), 1)
	clock.Advance(9 * time.Second)
	g.quiet(t, 1)
	clock.Advance(time.Second)
	g.wait(t, 2)
	waitAttempts(t, srv, tea.StringValue(resp.Body.Chatid), 2)
	g.quiet(t, 2)
	if g.ids[0] != g.ids[1] {
		t.Errorf("eventIds %s and %s differ", g.ids[0], g.ids[1])
	}
	var j struct {
		Events []struct {
			Status   string
			Attempts []struct {
				OK     bool
				Status string
			}
		}
	}
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+tea.StringValue(resp.Body.Chatid), nil, &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Events) != 1 || j.Events[0].Status != "delivered" || j.Events[0].Attempts[0].Status != "LATER" || !j.Events[0].Attempts[1].OK {
		t.Errorf("journal %+v", j)
	}
}

func waitAttempts(t *testing.T, srv *quntest.Server, chat string, n int) {
	t.Helper()
	for range 1000 {
		var j struct{ Events []struct{ Attempts []any } }
		if err := srv.Admin("GET", "/admin/v1/events?chat_id="+chat, nil, &j); err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, e := range j.Events {
			total += len(e.Attempts)
		}
		if total >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the journal never had %d attempts", n)
}

// TestRolledBackUpdateEmitsNothing: an update that adds members and then
// fails (the new owner is not in the group) tells nobody.
func TestRolledBackUpdateEmitsNothing(t *testing.T) {
	srv := quntest.NewServer(t, quntest.WithoutRateLimits())
	g := newGot()
	stream(t, srv, appKey, g)
	demo := newClient(t, srv, appKey)
	resp, err := demo.create(seedRequest())
	if err != nil {
		t.Fatal(err)
	}
	_, err = demo.update(&im.UpdateGroupRequest{Chatid: resp.Body.Chatid, AddUseridlist: tea.StringSlice([]string{"lisi"}), Owner: tea.String("user002")})
	wantSDKError(t, "owner not in the group", err, 400, "parameter.invalid")
	g.quiet(t, 0)
	var j struct{ Events []any }
	if err := srv.Admin("GET", "/admin/v1/events?chat_id="+tea.StringValue(resp.Body.Chatid), nil, &j); err != nil || len(j.Events) != 0 {
		t.Errorf("journal %v %v", j, err)
	}
}
