package qun

import (
	"crypto/rand"
	"encoding/base64"
	"regexp"
	"time"
	"unicode/utf8"
)

// chatRules are the limits, defaults and habits of one platform's chats.
// Every rule that differs between platforms is a field here, so that the
// operations read the same for all.
type chatRules struct {
	needsBot       bool   // the acting app must have bot ability
	actorJoins     bool   // the acting bot joins the chats it creates
	appManages     bool   // the acting app manages the chats it created without being in them
	robotSends     bool   // an app speaks in a chat through its robot, which must be added first
	ownerRequired  bool   // a create must name the owner
	defaultName    string // name of a private chat created without one
	publicNameMin  int    // runes a public chat's name needs (0: no rule)
	maxBots        int    // bots in one chat
	maxMembers     int    // users in one chat
	maxManagers    int    // managers (users and bots) of one chat
	labelScope     string // scope needed to set labels
	operateAsOwner string // scope that gives a chat's creator the owner's rights
	dedupeTTL      time.Duration
	// avatar tells whether a string may be a chat avatar.
	avatar func(string) bool
	// newChatID and newConversationID make a chat's public identifiers.
	newChatID         func() string
	newConversationID func() string
	// newMessageID makes a message's public identifier.
	newMessageID func() string
	// newThreadID makes a thread's identifier; nil: the platform has no
	// threads.
	newThreadID func() string
}

var rulesOf = map[Platform]chatRules{
	Feishu: {
		needsBot:       true,
		actorJoins:     true,
		defaultName:    "(无主题)",
		publicNameMin:  2,
		maxBots:        15,
		maxMembers:     5000,
		maxManagers:    10,
		labelScope:     "im:chat.label",
		operateAsOwner: "im:chat:operate_as_owner",
		dedupeTTL:      10 * time.Hour,
		avatar:         imageKey.MatchString,
		newChatID:      func() string { return "oc_" + orderedHex(32) },
		newMessageID:   func() string { return "om_" + orderedHex(32) },
		newThreadID:    func() string { return "omt_" + randomHex(16) },
	},
	DingTalk: {
		appManages:    true,
		robotSends:    true,
		ownerRequired: true,
		maxBots:       0,
		maxMembers:    1000,
		maxManagers:   1000,
		avatar:        func(s string) bool { return utf8.RuneCountInString(s) <= 256 },
		newChatID:     func() string { return "chat" + orderedHex(32) },
		newMessageID:  func() string { return "msg" + orderedHex(32) },
		newConversationID: func() string {
			b := make([]byte, 16)
			rand.Read(b)
			putMillis(b) // near the last one in the index: see orderedHex
			return "cid" + base64.StdEncoding.EncodeToString(b)
		},
	},
	WeCom: {
		appManages:   true,
		maxMembers:   2000,
		avatar:       func(s string) bool { return utf8.RuneCountInString(s) <= 512 },
		newChatID:    func() string { return "wr" + orderedAlnum(28) },
		newMessageID: func() string { return orderedHex(32) },
		maxManagers:  0,
	},
}

// maxWithWeChat is how many members a WeCom chat with WeChat contacts holds.
const maxWithWeChat = 40

// imageKey is what a Feishu avatar image key may contain.
var imageKey = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,200}$`)
