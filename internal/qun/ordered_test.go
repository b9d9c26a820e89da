package qun

import (
	"regexp"
	"testing"
	"time"
)

// TestOrderedIDs: the identifiers a store indexes keep their platform's
// shape and sort by the time they were made.
func TestOrderedIDs(t *testing.T) {
	for _, c := range []struct {
		name  string
		make  func() string
		shape *regexp.Regexp
	}{
		{"Feishu chat", rulesOf[Feishu].newChatID, regexp.MustCompile(`^oc_[0-9a-f]{32}$`)},
		{"Feishu message", rulesOf[Feishu].newMessageID, regexp.MustCompile(`^om_[0-9a-f]{32}$`)},
		{"DingTalk chat", rulesOf[DingTalk].newChatID, regexp.MustCompile(`^chat[0-9a-f]{32}$`)},
		{"DingTalk message", rulesOf[DingTalk].newMessageID, regexp.MustCompile(`^msg[0-9a-f]{32}$`)},
		{"WeCom chat", rulesOf[WeCom].newChatID, regexp.MustCompile(`^wr[0-9A-Za-z]{28}$`)},
		{"WeCom message", rulesOf[WeCom].newMessageID, regexp.MustCompile(`^[0-9a-f]{32}$`)},
	} {
		// Eight pairs: random identifiers would pass one in 256 times.
		for range 8 {
			first := c.make()
			time.Sleep(2 * time.Millisecond)
			second := c.make()
			if !c.shape.MatchString(first) || !c.shape.MatchString(second) {
				t.Errorf("%s: %q, %q do not match %s", c.name, first, second, c.shape)
			}
			if first >= second {
				t.Errorf("%s: %q made before %q sorts after it", c.name, first, second)
				break
			}
		}
		if a, b := c.make(), c.make(); a == b {
			t.Errorf("%s: two identifiers made at once are equal", c.name)
		}
	}
	cid := regexp.MustCompile(`^cid[0-9A-Za-z+/]{22}==$`)
	if id := rulesOf[DingTalk].newConversationID(); !cid.MatchString(id) {
		t.Errorf("DingTalk conversation %q does not match %s", id, cid)
	}
}
