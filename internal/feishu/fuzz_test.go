package feishu

import (
	"errors"
	"testing"
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
