package dingtalk

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/qunhq/qun/internal/qun"
)

// FuzzCreateGroupBody decodes arbitrary create bodies and checks them
// against the documented rules: never a panic, and a body that passes
// always yields a named owner, members and a known class.
func FuzzCreateGroupBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Test Group","owner":"manager4220","ownerType":"emp","useridlist":["userId"],"conversationTag":2,"extidlist":["unionId"],"icon":"@mediaId","managementOptions":{"mentionAllAuthority":0,"showHistoryType":0,"validationType":0,"searchable":0,"chatBannedType":0,"managementType":0}}`,
		`{"name":"","owner":"x","useridlist":[]}`,
		`{"name":"群","owner":"x","ownerType":"ext","useridlist":["a"],"conversationTag":0,"managementOptions":{"searchable":1}}`,
		`{"conversationTag":99999999999999999999}`,
		`{"managementOptions":{"chatBannedType":-1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b createGroupBody
		if json.NewDecoder(bytes.NewReader(raw)).Decode(&b) != nil {
			return
		}
		in, err := newGroup(b)
		if err != nil {
			return
		}
		if in.Owner == nil || len(in.Users) == 0 || (in.Class != qun.Internal && in.Class != qun.Standard) || !validName(in.Name) {
			t.Fatalf("accepted %s as %+v", raw, in)
		}
	})
}

// FuzzGroupChange decodes arbitrary update bodies (new and legacy) into
// changes: never a panic, and the options it accepts apply cleanly.
func FuzzGroupChange(f *testing.F) {
	f.Add([]byte(`{"chatid":"chat1","name":"n","owner":"u","ownerType":"ext","add_useridlist":["a"],"del_extidlist":["b"],"managementOptions":{"managementType":1},"isBan":true}`))
	f.Add([]byte(`{"chatid":"chat1","searchable":2}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b legacyUpdateBody
		if json.NewDecoder(bytes.NewReader(raw)).Decode(&b) != nil {
			return
		}
		ch, err := groupChange(b.Name, b.Owner, b.OwnerType, b.Icon, &b.managementOptions, b.AddUseridlist, b.DelUseridlist, b.AddExtidlist, b.DelExtidlist)
		if err != nil {
			return
		}
		st := qun.DefaultSettings()
		if ch.Settings != nil {
			ch.Settings(&st)
		}
		if st.WhoCanEdit != qun.Everyone && st.WhoCanEdit != qun.Owners {
			t.Fatalf("options yielded %q", st.WhoCanEdit)
		}
	})
}

// FuzzSessionMessage reads arbitrary sessionWebhook bodies: never a
// panic; a refusal is one of the webhook errcodes; an accepted message's
// content is the JSON object of its msgtype.
func FuzzSessionMessage(f *testing.F) {
	for _, seed := range []string{
		`{"msgtype":"text","text":{"content":"pong"}}`,
		`{"msgtype":"markdown","markdown":{"title":"T","text":"**x**"},"at":{"atUserIds":["userId"],"isAtAll":true}}`,
		`{"msgtype":"text","text":{"content":""}}`,
		`{"msgtype":"text","text":null}`,
		`{"msgtype":"feedCard","feedCard":{"links":[]}}`,
		`{"msgtype":1}`,
		`{"msgtype":"text","text":{"content":"x"}} trailing`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, _, e, _ := sessionMessage(raw)
		switch e {
		case sessionOK:
			var obj map[string]any
			if _, ok := sessionTypes[m.Type]; !ok || json.Unmarshal([]byte(m.Content), &obj) != nil || obj == nil {
				t.Fatalf("accepted %q with content %q", m.Type, m.Content)
			}
		case sessionBadJSON, sessionBadType, sessionTooLong:
		default:
			t.Fatalf("refused with %+v", e)
		}
	})
}
