package dingtalk_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/qunhq/qun/internal/golden"
	"github.com/qunhq/qun/quntest"
)

// masked replaces generated identifiers so answers compare byte for byte.
func masked(b []byte) []byte {
	b = regexp.MustCompile(`chat[0-9a-f]{32}`).ReplaceAll(b, []byte("chat00000000000000000000000000000000"))
	b = regexp.MustCompile(`cid[A-Za-z0-9+/]{22}==`).ReplaceAll(b, []byte("cidAAAAAAAAAAAAAAAAAAAAAA=="))
	return b
}

func matchGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	golden.JSON(t, filepath.Join("testdata", name), masked(body), "  ")
}

// TestGolden pins the wire form of the answers: the create answer to the
// seed's example (keys in the documented order), an error, chat/get, and
// the robot's send, query and recall.
func TestGolden(t *testing.T) {
	srv := quntest.NewServer(t)
	tok := token(t, srv, appKey)
	post := func(path, body string) []byte {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("x-acs-dingtalk-access-token", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	seed := `{"name":"Test Group","owner":"manager4220","ownerType":"emp","useridlist":["userId"],"conversationTag":2,"extidlist":["unionId"],"icon":"@mediaId","managementOptions":{"mentionAllAuthority":0,"showHistoryType":0,"validationType":0,"searchable":0,"chatBannedType":0,"managementType":0}}`
	created := post("/v1.0/im/group/create", seed)
	matchGolden(t, "create_group_seed_example.json", created)
	var c struct{ Chatid string }
	json.Unmarshal(created, &c)

	errBody := post("/v1.0/im/group/create", `{}`)
	errBody = regexp.MustCompile(`"requestid":"[0-9A-F-]{36}"`).ReplaceAll(errBody, []byte(`"requestid":"01A08FE7-CD6B-79BB-8B2E-35D8768AD457"`))
	matchGolden(t, "create_group_parameter_invalid.json", errBody)

	resp, err := http.Get(srv.URL + "/chat/get?access_token=" + tok + "&chatid=" + c.Chatid)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	matchGolden(t, "legacy_chat_get.json", b)

	// The robot's APIs: send, query (after a member posted), recall.
	cid := regexp.MustCompile(`"openConversationId":"([^"]+)"`).FindSubmatch(created)
	group := `"openConversationId":"` + string(cid[1]) + `","robotCode":"` + appKey + `"`
	post("/v1.0/robot/groups/orgRobots/add", "{"+group+"}")
	sent := post("/v1.0/robot/groupMessages/send", "{"+group+`,"msgKey":"sampleText","msgParam":"{\"content\":\"hello\"}"}`)
	var s struct{ ProcessQueryKey string }
	json.Unmarshal(sent, &s)
	key := regexp.MustCompile(`msg[0-9a-f]{32}`)
	matchGolden(t, "robot_send.json", key.ReplaceAll(sent, []byte("msgKEY")))
	if _, err := srv.Post(c.Chatid, "userId", `{"content":"seen"}`); err != nil {
		t.Fatal(err)
	}
	matchGolden(t, "robot_query.json", post("/v1.0/robot/groupMessages/query", "{"+group+`,"processQueryKey":"`+s.ProcessQueryKey+`"}`))
	recalled := post("/v1.0/robot/groupMessages/recall", "{"+group+`,"processQueryKeys":["`+s.ProcessQueryKey+`","msgnothere"]}`)
	matchGolden(t, "robot_recall.json", key.ReplaceAll(recalled, []byte("msgKEY")))
}
