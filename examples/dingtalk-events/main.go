// Command dingtalk-events receives group events with the official
// DingTalk Stream SDK pointed at qun (WithOpenApiHost): it adds lisi to a
// new group and prints the event its handler got. The demo app is
// subscribed to every group event over Stream. Start qun with
// `go run ./cmd/qun serve`, then `go run ./dingtalk-events` in examples/;
// QUN_URL points it at another node.
package main

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	im "github.com/alibabacloud-go/dingtalk/im_1_0"
	oauth2 "github.com/alibabacloud-go/dingtalk/oauth2_1_0"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/client"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/event"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/logger"
)

func main() {
	base := os.Getenv("QUN_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	logger.SetLogger(quiet{})
	got := make(chan string, 1)

	cli := client.NewStreamClient(
		client.WithAppCredential(client.NewAppCredentialConfig("dingqundemo", "demo-dingtalk-secret")),
		client.WithOpenApiHost(base))
	cli.RegisterAllEventRouter(event.NewDefaultEventFrameHandler(
		func(ctx context.Context, h *event.EventHeader, data []byte) (event.EventProcessStatusType, error) {
			got <- h.EventType + " " + string(data)
			return event.EventProcessStatusKSuccess, nil // LATER: delivered again
		}).OnEventReceived)
	if err := cli.Start(context.Background()); err != nil {
		log.Fatal(err)
	}

	// A change to tell of: a group, then lisi added to it.
	u, _ := url.Parse(base)
	cfg := &openapi.Config{Protocol: tea.String(u.Scheme), Endpoint: tea.String(u.Host)}
	oc, _ := oauth2.NewClient(cfg)
	tok, err := oc.GetAccessToken(&oauth2.GetAccessTokenRequest{AppKey: tea.String("dingqundemo"), AppSecret: tea.String("demo-dingtalk-secret")})
	if err != nil {
		log.Fatal(err)
	}
	ic, _ := im.NewClient(cfg)
	group, err := ic.CreateGroupWithOptions(&im.CreateGroupRequest{Name: tea.String("events"), Owner: tea.String("manager4220"), Useridlist: tea.StringSlice([]string{"userId"})},
		&im.CreateGroupHeaders{XAcsDingtalkAccessToken: tok.Body.AccessToken}, &util.RuntimeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := ic.UpdateGroupWithOptions(&im.UpdateGroupRequest{Chatid: group.Body.Chatid, AddUseridlist: tea.StringSlice([]string{"lisi"})},
		&im.UpdateGroupHeaders{XAcsDingtalkAccessToken: tok.Body.AccessToken}, &util.RuntimeOptions{}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got) // chat_add_member {"timeStamp":…,"userId":["lisi"],…}
}

// quiet drops the Stream SDK's log.
type quiet struct{}

func (quiet) Debugf(string, ...any)   {}
func (quiet) Infof(string, ...any)    {}
func (quiet) Warningf(string, ...any) {}
func (quiet) Errorf(string, ...any)   {}
func (quiet) Fatalf(string, ...any)   {}
