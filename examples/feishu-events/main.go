// Command feishu-events receives chat events with the official Feishu
// long-connection client (larkws) pointed at qun: it adds lisi to a new
// chat through the API and prints the event its handler got. The demo
// app is subscribed to every chat event over the long connection. Start
// qun with `go run ./cmd/qun serve`, then `go run ./feishu-events` in
// examples/; QUN_URL points it at another node.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	lark "github.com/larksuite/oapi-sdk-go/v3"
	larkcore "github.com/larksuite/oapi-sdk-go/v3/core"
	"github.com/larksuite/oapi-sdk-go/v3/event/dispatcher"
	larkim "github.com/larksuite/oapi-sdk-go/v3/service/im/v1"
	larkws "github.com/larksuite/oapi-sdk-go/v3/ws"
)

func main() {
	base := os.Getenv("QUN_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	ctx := context.Background()
	got := make(chan string, 1)

	d := dispatcher.NewEventDispatcher("", "").
		OnP2ChatMemberUserAddedV1(func(ctx context.Context, e *larkim.P2ChatMemberUserAddedV1) error {
			got <- e.EventV2Base.Header.EventType + " " + *e.Event.Users[0].Name
			return nil
		})
	cli := larkws.NewClient("cli_a10fbf7e94b8d01d", "demo-feishu-secret",
		larkws.WithEventHandler(d), larkws.WithDomain(base), larkws.WithLogLevel(larkcore.LogLevelError))
	go cli.Start(ctx)

	// A change to tell of: a chat, then lisi added to it.
	api := lark.NewClient("cli_a10fbf7e94b8d01d", "demo-feishu-secret", lark.WithOpenBaseUrl(base), lark.WithLogLevel(larkcore.LogLevelError))
	chat, err := api.Im.V1.Chat.Create(ctx, larkim.NewCreateChatReqBuilder().
		Body(larkim.NewCreateChatReqBodyBuilder().Name("events").Build()).Build())
	if err != nil || !chat.Success() {
		log.Fatal(err, chat)
	}
	add, err := api.Im.V1.ChatMembers.Create(ctx, larkim.NewCreateChatMembersReqBuilder().ChatId(*chat.Data.ChatId).MemberIdType("user_id").
		Body(larkim.NewCreateChatMembersReqBodyBuilder().IdList([]string{"lisi"}).Build()).Build())
	if err != nil || !add.Success() {
		log.Fatal(err, add)
	}
	fmt.Println(<-got) // im.chat.member.user.added_v1 李四
}
