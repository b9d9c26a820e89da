package qun

import (
	"strings"
	"testing"
)

// TestCheckChatFields covers the create rules that need no directory.
func TestCheckChatFields(t *testing.T) {
	open := Policy{PublicChats: true, RestrictedMode: true, HideMemberCount: true, BlockedWords: []string{"违禁"}}
	closed := Policy{}
	app := App{Platform: Feishu, Bot: true, Scopes: []string{"im:chat.label"}}
	bare := App{Platform: Feishu, Bot: true}
	with := func(f func(in *NewChat)) NewChat {
		in := NewChat{Settings: DefaultSettings()}
		f(&in)
		return in
	}
	public := func(name string) func(*NewChat) {
		return func(in *NewChat) { in.Settings.Visibility, in.Name = Public, name }
	}
	restricted := func(on bool, screenshot Audience) func(*NewChat) {
		return func(in *NewChat) {
			in.Settings.Restricted = Restricted{On: on, Screenshot: screenshot, Download: Everyone, CopyForward: Everyone}
		}
	}
	cases := []struct {
		name   string
		policy Policy
		app    App
		in     NewChat
		want   Reason
	}{
		{"private defaults", open, app, with(func(*NewChat) {}), ""},
		{"public named", open, app, with(public("ab")), ""},
		{"public one rune", open, app, with(public("群")), ReasonPublicNameShort},
		{"public two runes", open, app, with(public("群聊")), ""},
		{"public empty", open, app, with(public("")), ReasonPublicNameEmpty},
		{"public forbidden beats empty name", closed, app, with(public("")), ReasonPublicNotAllowed},
		{"restricted on", open, app, with(restricted(true, NoOne)), ""},
		{"restricted on, nothing withheld", open, app, with(restricted(true, Everyone)), ReasonRestrictedInvalid},
		{"restricted off, something withheld", open, app, with(restricted(false, NoOne)), ReasonRestrictedInvalid},
		{"restricted off, nothing withheld, no edition", closed, app, with(restricted(false, Everyone)), ""},
		{"restricted on, no edition", closed, app, with(restricted(true, NoOne)), ReasonRestrictedNotAllowed},
		{"hide count", open, app, with(func(in *NewChat) { in.Settings.MemberCountFor = Owners }), ""},
		{"hide count, no edition", closed, app, with(func(in *NewChat) { in.Settings.MemberCountFor = Owners }), ReasonHideCountNotAllowed},
		{"hide count of a public chat", open, app, with(func(in *NewChat) { public("ab")(in); in.Settings.MemberCountFor = Owners }), ReasonHideCountChatType},
		{"labels with scope", open, app, with(func(in *NewChat) { in.Settings.Labels = []string{"l"} }), ""},
		{"labels without scope", open, bare, with(func(in *NewChat) { in.Settings.Labels = []string{"l"} }), ReasonLabelsScope},
		{"blocked word in name", open, app, with(func(in *NewChat) { in.Name = "含违禁内容" }), ReasonContentReview},
		{"blocked word in i18n", open, app, with(func(in *NewChat) { in.I18nNames.JaJP = "違禁违禁" }), ReasonContentReview},
		{"blocked words are the tenant's", closed, app, with(func(in *NewChat) { in.Name = "违禁" }), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			err := checkChatFields(Actor{App: c.app, Tenant: Tenant{Policy: c.policy}}, rulesOf[Feishu], &in)
			if got := ErrorReason(err); got != c.want || (c.want != "" && err == nil) {
				t.Fatalf("reason %q (%v), want %q", got, err, c.want)
			}
		})
	}
}

// TestDefaultName: a private chat without a name gets the platform's
// default; a named one keeps its name.
func TestDefaultName(t *testing.T) {
	for _, c := range []struct{ in, want string }{{"", "(无主题)"}, {"x", "x"}} {
		in := NewChat{Name: c.in, Settings: DefaultSettings()}
		if err := checkChatFields(Actor{App: App{Platform: Feishu}}, rulesOf[Feishu], &in); err != nil || in.Name != c.want {
			t.Errorf("name %q became %q (%v), want %q", c.in, in.Name, err, c.want)
		}
	}
}

func TestDerivedAliasStable(t *testing.T) {
	a := derivedAlias(Feishu, OpenID, "cli_a", "tenant", "u1")
	if a != derivedAlias(Feishu, OpenID, "cli_a", "tenant", "u1") || a == derivedAlias(Feishu, OpenID, "cli_b", "tenant", "u1") || len(a) != 35 || a[:3] != "ou_" {
		t.Errorf("derivedAlias = %q", a)
	}
	if u := derivedAlias(DingTalk, UnionID, "corp", "corp", "u1"); len(u) < 16 || strings.ContainsAny(u, "-_=") {
		t.Errorf("DingTalk unionId = %q", u)
	}
}
