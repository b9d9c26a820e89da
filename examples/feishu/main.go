// Command feishu creates a Feishu chat with the official SDK
// (github.com/larksuite/oapi-sdk-go/v3) pointed at qun. Start qun with
// `go run ./cmd/qun serve`, then `go run ./feishu` in examples/; QUN_URL
// points it at another node.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	lark "github.com/larksuite/oapi-sdk-go/v3"
	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"
)

func main() {
	base := os.Getenv("QUN_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	cli := lark.NewClient("cli_a10fbf7e94b8d01d", "demo-feishu-secret",
		lark.WithOpenBaseUrl(base)) // no trailing slash

	resp, err := cli.Im.V1.Chat.Create(context.Background(), larkim.NewCreateChatReqBuilder().
		UserIdType("open_id").
		Uuid("my-request-1").
		Body(larkim.NewCreateChatReqBodyBuilder().
			Name("测试群名称").
			OwnerId("ou_7d8a6e6df7621556ce0d21922b676706ccs").
			UserIdList([]string{"ou_7d8a6e6df7621556ce0d21922b676706ccs"}).
			Build()).
		Build())
	if err != nil {
		log.Fatal(err) // transport or token failure
	}
	if !resp.Success() {
		log.Fatalf("%d %s (log id %s)", resp.Code, resp.Msg, resp.RequestId())
	}
	fmt.Println(*resp.Data.ChatId)
}
