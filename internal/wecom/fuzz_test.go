package wecom

import (
	"encoding/json"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/qunhq/qun/internal/qun"
)

// FuzzCorpGroupArgs decodes arbitrary createCorpGroupChat parameters, as a
// page sends them, for both kinds of app and old and new clients: never a
// panic, and what passes names only non-empty IDs of the kind the app
// reads, with contacts only for clients that know them.
func FuzzCorpGroupArgs(f *testing.F) {
	for _, seed := range []string{
		`{"groupName":"讨论组","userIds":["lisi","lisi2"],"openUserIds":["wabc3","wbcde"],"externalUserIds":["exid1","exid2"],"corpGroupUserIds":[{"corpId":"ww3333","userId":"userid123","openUserId":"wx1111"},{"corpId":"ww4444","userId":"userid123","openUserId":"wx1111"}]}`,
		`{"userIds":"lisi"}`,
		`{"corpGroupUserIds":[{"corpId":""}]}`,
		`{"groupName":null,"userIds":null}`,
		`[]`,
		`{"corpGroupUserIds":[1,2]}`,
	} {
		f.Add([]byte(seed), false, 20)
		f.Add([]byte(seed), true, 19)
	}
	f.Fuzz(func(t *testing.T, raw []byte, third bool, patch int) {
		a := qun.App{Kind: qun.SelfBuilt}
		kind := qun.UserID
		if third {
			a.Kind, kind = qun.ThirdParty, qun.OpenUserID
		}
		v := version{3, 1, patch}
		req, ok := parseCorpGroup(json.RawMessage(raw), a, v)
		if !ok {
			return
		}
		for _, r := range req.Users {
			if r.Kind != kind || r.Value == "" {
				t.Fatalf("accepted user ref %+v from %s", r, raw)
			}
		}
		for _, cr := range req.CorpUsers {
			if cr.Corp == "" || cr.Ref.Kind != kind || cr.Ref.Value == "" {
				t.Fatalf("accepted corp ref %+v from %s", cr, raw)
			}
		}
		if req.InterconnectOnly != v.before(sinceChains) || (req.InterconnectOnly && len(req.Contacts) > 0) || slices.Contains(req.Contacts, "") {
			t.Fatalf("client %v: interconnect-only %v with contacts %q", v, req.InterconnectOnly, req.Contacts)
		}
	})
}

// FuzzAppchatCreate decodes arbitrary appchat/create bodies: never a panic,
// and a body that passes yields an owner among 2 to 2000 distinct members,
// a name of at most 50 characters and a valid chatid or none.
func FuzzAppchatCreate(f *testing.F) {
	for _, seed := range []string{
		`{"name":"NAME","owner":"userid1","userlist":["userid1","userid2","userid3"],"chatid":"CHATID"}`,
		`{"userlist":["a","a"]}`,
		`{"userlist":["a","b"],"owner":"c"}`,
		`{"userlist":["a","b"],"chatid":"有中文"}`,
		`{"userlist":[""],"name":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req createAppchatRequest
		if json.Unmarshal(raw, &req) != nil {
			return
		}
		in, err := newAppchat(req)
		if err != nil {
			return
		}
		n := len(in.Users) + 1
		if in.Owner == nil || in.Owner.Value == "" || slices.Contains(in.Users, *in.Owner) || n < 2 || n > maxAppchatIDs {
			t.Fatalf("accepted %s as owner %v and %d members", raw, in.Owner, n)
		}
		if utf8.RuneCountInString(in.Name) > maxChatName || (in.ChatID != "" && checkChatID(in.ChatID) != nil) {
			t.Fatalf("accepted %s as name %q, chatid %q", raw, in.Name, in.ChatID)
		}
	})
}

// FuzzVersion parses arbitrary client versions: never a panic, and the
// order is consistent with the gates.
func FuzzVersion(f *testing.F) {
	for _, s := range []string{"4.1.30", "3.1.8", "3.1.7", "3.1.20.9", "3", "3..1", "-1.0.0", "99999999999999999999.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := parseVersion(s)
		if !ok {
			return
		}
		if v.before(v) || (v.before(sinceCorpGroupChat) && !v.before(sinceChains)) {
			t.Fatalf("version %q = %v orders inconsistently", s, v)
		}
	})
}
