package wecom

import (
	"encoding/json"

	"github.com/qunhq/qun/internal/qun"
)

// POST /cgi-bin/appchat/send: an app posts into a chat it created. The
// message is kept as WeCom's typed member (text → {"content": …}).

// Errors of appchat/send.
var (
	errBadMsgType   = apiError{40008, "invalid message type"}
	errEmptyContent = apiError{44004, "empty content"}
	errContentSize  = apiError{45002, "content size out of limit"}
)

// sendTypes are the message types appchat/send takes, with the member
// of the type's object that must not be empty and the content's limit
// in bytes (0: the body's).
var sendTypes = map[string]struct {
	need  string
	limit int
}{
	"text": {"content", 2048}, "markdown": {"content", 4096}, "image": {"media_id", 0}, "voice": {"media_id", 0},
	"video": {"media_id", 0}, "file": {"media_id", 0}, "textcard": {"title", 0}, "news": {"articles", 0}, "mpnews": {"articles", 0},
}

func (h *Handler) sendAppchat(c *call) (any, error) {
	var req map[string]json.RawMessage
	if err := h.decode(c, &req); err != nil {
		return nil, err
	}
	var chatID, msgType string
	if json.Unmarshal(req["chatid"], &chatID) != nil || chatID == "" {
		return nil, errNeedChatID
	}
	if json.Unmarshal(req["msgtype"], &msgType) != nil {
		return nil, errBadMsgType
	}
	kind, known := sendTypes[msgType]
	if !known {
		return nil, errBadMsgType
	}
	if err := checkAppchatApp(c.actor.App); err != nil {
		return nil, err
	}
	var body map[string]json.RawMessage
	if json.Unmarshal(req[msgType], &body) != nil || body == nil {
		return nil, errEmptyContent
	}
	var text string
	if err := json.Unmarshal(body[kind.need], &text); kind.need != "articles" && (err != nil || text == "") {
		return nil, errEmptyContent
	}
	if kind.need == "articles" && len(body["articles"]) <= len("[]") {
		return nil, errEmptyContent
	}
	if kind.limit > 0 && len(text) > kind.limit {
		return nil, errContentSize
	}
	if _, err := h.svc.SendMessage(c.r.Context(), c.actor, chatID, qun.NewMessage{Type: msgType, Content: string(req[msgType])}); err != nil {
		return nil, err
	}
	return ok, nil
}
