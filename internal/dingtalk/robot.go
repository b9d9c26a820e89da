package dingtalk

import (
	"encoding/json"

	"github.com/qunhq/qun/internal/qun"
)

// The app's robot in groups: orgRobots/add puts it into a group the app
// manages, groupMessages/send posts from it (msgKey names the template,
// msgParam is the template's parameters as a JSON string) and answers a
// processQueryKey.

// Errors of the robot APIs (codes as DingTalk's robot documentation and
// its developer community list them).
var (
	errRobotCodeEmpty  = apiError{400, "invalidParameter.robotCode.empty", "robotCode is empty"}
	errRobotCodeBad    = apiError{400, "invalidParameter.robotCode.notExsit", "robotCode does not exist"}
	errMsgKeyEmpty     = apiError{400, "invalidParameter.msgKey.empty", "msgKey is empty"}
	errMsgKeyInvalid   = apiError{400, "invalidParameter.msgKey.invalid", "msgKey is invalid"}
	errMsgParamInvalid = apiError{400, "invalidParameter.msgParam.invalid", "msgParam is invalid"}
	errMsgParamTooLong = apiError{400, "invalidParameter.msgParam.tooLong", "msgParam is too long"}
	errMissConvID      = apiError{400, "miss.openConversationId", "openConversationId is missing"}
	errBadConvID       = apiError{400, "invalid.openConversationId", "openConversationId is invalid"}
	errGroupDisbanded  = apiError{400, "group.disbanded", "the group has been disbanded"}
	errRobotNotInGroup = apiError{400, "robot.notInGroup", "the robot is not in the group"}
)

// maxMsgParam is msgParam's limit in bytes.
const maxMsgParam = 15000

// msgKeys are the robot's message templates, with the parameters each
// needs.
var msgKeys = map[string][]string{
	"sampleText":            {"content"},
	"sampleMarkdown":        {"title", "text"},
	"sampleImageMsg":        {"photoURL"},
	"sampleLink":            {"text", "title", "picUrl", "messageUrl"},
	"sampleActionCard":      {"title", "text", "singleTitle", "singleURL"},
	"sampleActionCard2":     {"title", "text", "actionTitle1", "actionURL1", "actionTitle2", "actionURL2"},
	"sampleAudio":           {"mediaId", "duration"},
	"sampleFile":            {"mediaId", "fileName", "fileType"},
	"sampleVideo":           {"duration", "videoMediaId", "videoType", "picMediaId"},
	"sampleActionCard3":     {"title", "text"},
	"sampleActionCard4":     {"title", "text"},
	"sampleActionCard5":     {"title", "text"},
	"sampleActionCard6":     {"title", "text"},
	"sampleMarkdownTitle":   {"title", "text"},
	"sampleImageMsgTitle":   {"photoURL"},
	"sampleTextWithTitle":   {"content"},
	"sampleLinkWithPicture": {"text", "title", "picUrl", "messageUrl"},
}

// robotOverrides map the core's refusals to the robot APIs' codes.
var robotOverrides = map[qun.Reason]apiError{
	qun.ReasonChatNotFound:  errBadConvID,
	qun.ReasonChatDissolved: errGroupDisbanded,
	qun.ReasonNotInChat:     errRobotNotInGroup,
	qun.ReasonBotNotFound:   errRobotCodeBad,
	qun.ReasonNotCreator:    errPermCheck,
}

type robotRequest struct {
	OpenConversationID *string `json:"openConversationId"`
	RobotCode          *string `json:"robotCode"`
	MsgKey             *string `json:"msgKey"`
	MsgParam           *string `json:"msgParam"`
	CoolAppCode        *string `json:"coolAppCode"`
}

func (r robotRequest) group() (cid, robot string, err error) {
	if r.OpenConversationID == nil || *r.OpenConversationID == "" {
		return "", "", fail(errMissConvID)
	}
	if r.RobotCode == nil || *r.RobotCode == "" {
		return "", "", fail(errRobotCodeEmpty)
	}
	return *r.OpenConversationID, *r.RobotCode, nil
}

func (h *Handler) addRobot(c *call) (any, error) {
	var req robotRequest
	if err := h.decode(c, &req, fail(errParameter)); err != nil {
		return nil, err
	}
	cid, robot, err := req.group()
	if err != nil {
		return nil, err
	}
	if err := h.svc.AddRobot(c.r.Context(), c.actor, cid, robot); err != nil {
		return nil, toFailure(err, robotOverrides)
	}
	return map[string]bool{"result": true}, nil
}

func (h *Handler) sendGroupMessage(c *call) (any, error) {
	var req robotRequest
	if err := h.decode(c, &req, fail(errParameter)); err != nil {
		return nil, err
	}
	cid, robot, err := req.group()
	if err != nil {
		return nil, err
	}
	if req.MsgKey == nil || *req.MsgKey == "" {
		return nil, fail(errMsgKeyEmpty)
	}
	need, ok := msgKeys[*req.MsgKey]
	if !ok {
		return nil, fail(errMsgKeyInvalid)
	}
	if req.MsgParam == nil {
		return nil, fail(errMsgParamInvalid)
	}
	if len(*req.MsgParam) > maxMsgParam {
		return nil, fail(errMsgParamTooLong)
	}
	var param map[string]any
	if json.Unmarshal([]byte(*req.MsgParam), &param) != nil || param == nil {
		return nil, fail(errMsgParamInvalid)
	}
	for _, k := range need {
		if v, ok := param[k]; !ok || v == "" {
			return nil, fail(errMsgParamInvalid)
		}
	}
	if robot != c.actor.App.Key {
		return nil, fail(errRobotCodeBad)
	}
	m, err := h.svc.SendMessage(c.r.Context(), c.actor, cid, qun.NewMessage{Type: *req.MsgKey, Content: *req.MsgParam})
	if err != nil {
		return nil, toFailure(err, robotOverrides)
	}
	return map[string]string{"processQueryKey": m.MessageID}, nil
}
