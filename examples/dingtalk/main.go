// Command dingtalk creates a DingTalk group with the official SDK
// (github.com/alibabacloud-go/dingtalk) pointed at qun. Start qun with
// `go run ./cmd/qun serve`, then `go run ./dingtalk` in examples/; QUN_URL
// points it at another node.
package main

import (
	"fmt"
	"log"
	"os"
	"strings"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	im "github.com/alibabacloud-go/dingtalk/im_1_0"
	oauth2 "github.com/alibabacloud-go/dingtalk/oauth2_1_0"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
)

func main() {
	host := strings.TrimPrefix(os.Getenv("QUN_URL"), "http://")
	if host == "" {
		host = "127.0.0.1:8080"
	}
	cfg := &openapi.Config{Protocol: tea.String("http"), Endpoint: tea.String(host)} // host:port, no scheme

	oc, err := oauth2.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := oc.GetAccessToken(&oauth2.GetAccessTokenRequest{
		AppKey: tea.String("dingqundemo"), AppSecret: tea.String("demo-dingtalk-secret")})
	if err != nil {
		log.Fatal(err)
	}
	ic, err := im.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := ic.CreateGroupWithOptions(&im.CreateGroupRequest{
		Name:       tea.String("Test Group"),
		Owner:      tea.String("manager4220"),
		Useridlist: []*string{tea.String("userId")},
		Extidlist:  []*string{tea.String("unionId")},
	}, &im.CreateGroupHeaders{XAcsDingtalkAccessToken: tok.Body.AccessToken}, &util.RuntimeOptions{})
	if se, ok := err.(*tea.SDKError); ok {
		log.Fatalf("HTTP %d %s: %s", tea.IntValue(se.StatusCode), tea.StringValue(se.Code), tea.StringValue(se.Message))
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tea.StringValue(resp.Body.OpenConversationId))
}
