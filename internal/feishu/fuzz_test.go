package feishu

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/qunhq/qun/internal/qun"
)

// FuzzCreateChatBody feeds arbitrary bytes to the create-chat body decoder
// and its translation to the domain. It must never panic, and every
// rejection must be one of Feishu's parameter errors.
func FuzzCreateChatBody(f *testing.F) {
	for _, seed := range []string{
		``,
		`{}`,
		`null`,
		`{"name":"测试群名称","owner_id":"ou_7d8a6e6df7621556ce0d21922b676706ccs","user_id_list":["ou_7d8a6e6df7621556ce0d21922b676706ccs"],"bot_id_list":["cli_a10fbf7e94b8d01d"],"chat_type":"private","restricted_mode_setting":{"status":false,"screenshot_has_permission_setting":"all_members"}}`,
		`{"chat_type":"public","name":"a","hide_member_count_setting":"only_owner"}`,
		`{"i18n_names":{"zh_cn":1}}`,
		`{"user_id_list":[null,"",1]}`,
		`{"labels":["x"],"toolkit_ids":[],"chat_tags":null,"external":true}`,
		`[{}]`,
		`{"name":"\ud800"}`,
		`{} x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var body createChatBody
		err := decodeBody(raw, &body)
		if err == nil {
			_, err = newChat(body)
		}
		if err == nil {
			err = errors.Join(maxLen("user_id_list", len(body.UserIDList), 50), maxLen("bot_id_list", len(body.BotIDList), 5))
		}
		if err == nil {
			return
		}
		var f *failure
		if !errors.As(err, &f) {
			t.Fatalf("rejection is not a Feishu failure: %T %v", err, err)
		}
		if f.code != errInvalidParam.code && f.code != errFieldValidation.code {
			t.Fatalf("rejection code %d, want 232001 or 99992402", f.code)
		}
		if len(f.detail.FieldViolations) == 0 {
			t.Fatalf("rejection %d names no field", f.code)
		}
	})
}

// FuzzPageToken: any page_token decodes to numbers or an error, never a
// panic, and every token qun issues decodes to what it encoded.
func FuzzPageToken(f *testing.F) {
	f.Add("cXVuMToxOjI6Mw==", int64(1), int64(2), int64(3))
	f.Add("", int64(0), int64(-1), int64(1<<62))
	f.Add("not base64!", int64(7), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, tok string, a, b, c int64) {
		if v, err := decodePageToken(tok, 3); err == nil && len(v) != 3 {
			t.Fatalf("decoded %d numbers, want 3", len(v))
		}
		v, err := decodePageToken(encodePageToken(a, b, c), 3)
		if err != nil || v[0] != a || v[1] != b || v[2] != c {
			t.Fatalf("round trip of %d %d %d: %v %v", a, b, c, v, err)
		}
	})
}

// FuzzUpdateChatBody decodes arbitrary update bodies and translates them to
// a change applied to default settings; rejections must be Feishu
// parameter errors naming a field.
func FuzzUpdateChatBody(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"name":"群聊","add_member_permission":"only_owner","share_card_permission":"not_allowed"}`,
		`{"restricted_mode_setting":{"status":true,"screenshot_has_permission_setting":"not_anyone"}}`,
		`{"chat_type":"public","owner_id":"ou_x","labels":["a"],"i18n_names":{"en_us":"x"}}`,
		`{"urgent_setting":1}`,
		`{"hide_member_count_setting":"nobody"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b updateChatBody
		err := decodeBody(raw, &b)
		if err == nil {
			var ch qun.ChatChange
			if ch, err = changeOf(b, qun.OpenID); err == nil {
				if ch.Settings != nil {
					st := qun.DefaultSettings()
					ch.Settings(&st)
				}
				return
			}
		}
		var f *failure
		if !errors.As(err, &f) || f.code != errInvalidParam.code || len(f.detail.FieldViolations) == 0 {
			t.Fatalf("rejection %v is not a 232001 naming a field", err)
		}
	})
}

// FuzzFrame feeds arbitrary bytes to the long connection's frame decoder
// (what a client sends is untrusted): it never panics, and what it
// decodes encodes back to a frame that decodes the same.
func FuzzFrame(f *testing.F) {
	f.Add(frame{SeqID: 1, LogID: 2, Service: 3, Method: methodData, Headers: []header{{"type", "event"}, {"message_id", "m"}, {"biz_rt", "5"}}, Payload: []byte(`{"code":200}`)}.marshal())
	f.Add(frame{Method: methodControl, Headers: []header{{"type", "ping"}}}.marshal())
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		fr, err := unmarshalFrame(raw)
		if err != nil {
			return
		}
		again, err := unmarshalFrame(fr.marshal())
		if err != nil {
			t.Fatalf("a decoded frame does not decode once encoded: %v", err)
		}
		if fmt.Sprint(again) != fmt.Sprint(fr) {
			t.Fatalf("round trip: %+v, want %+v", again, fr)
		}
	})
}

// FuzzMessageContent checks arbitrary msg_type and content pairs as a
// send does: never a panic; a rejection is one of the message APIs'
// parameter errors; an accepted text keeps valid JSON content with one
// mention per <at> tag that names someone.
func FuzzMessageContent(f *testing.F) {
	for _, seed := range [][2]string{
		{"text", `{"text":"hi <at user_id=\"ou_known\">Li</at> and <at user_id=\"all\">所有人</at>"}`},
		{"text", `{"text":"<at user_id=\"ou_nobody\">x</at>"}`},
		{"text", `{"text":1}`},
		{"post", `{"zh_cn":{"title":"t","content":[[{"tag":"text","text":"x"}]]}}`},
		{"image", `{"image_key":""}`},
		{"interactive", `{"elements":[]}`},
		{"share_chat", `{"chat_id":"oc_x"}`},
		{"hologram", `{}`},
		{"text", `not json`},
		{"text", `null`},
		{"text", `{"text":"\ud800<at user_id=\"ou_known\"></at>"}`},
	} {
		f.Add(seed[0], seed[1])
	}
	known := qun.User{ID: 7, UserID: "known"}
	resolve := func(id string) (qun.User, error) {
		if id == "ou_known" {
			return known, nil
		}
		return qun.User{}, qun.Errorf(qun.ENotFound, qun.ReasonNotExisted, "nobody")
	}
	f.Fuzz(func(t *testing.T, msgType, content string) {
		m, err := newMessage(&msgType, &content, nil, resolve)
		if err != nil {
			var f *failure
			if !errors.As(err, &f) {
				t.Fatalf("rejection is not a Feishu failure: %T %v", err, err)
			}
			if f.code != errMsgInvalidParam.code && f.code != errMsgTooLong.code {
				t.Fatalf("rejection code %d", f.code)
			}
			return
		}
		if !json.Valid([]byte(m.Content)) {
			t.Fatalf("accepted content %q is not JSON", m.Content)
		}
		for _, x := range m.Mentions {
			if !x.All && x.User != known.ID {
				t.Fatalf("a mention of nobody: %+v", x)
			}
		}
		if msgType == "text" && len(m.Mentions) > 0 && strings.Contains(m.Content, `user_id=\"ou_known\"`) {
			t.Fatalf("a resolved tag is left in %q", m.Content)
		}
	})
}
