package dingtalk

import (
	"encoding/json"
	"strconv"

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
	errQueryKeyMissing = apiError{400, "invalidParameter.processQueryKey.missing", "processQueryKey is missing"}
	errQueryKeyBad     = apiError{400, "invalid.processQueryKey", "processQueryKey is invalid"}
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
	// A message the robot did not send is, to it, no message.
	qun.ReasonMessageNotFound: errQueryKeyBad,
	qun.ReasonNotSender:       errQueryKeyBad,
}

type robotRequest struct {
	OpenConversationID *string `json:"openConversationId"`
	RobotCode          *string `json:"robotCode"`
	MsgKey             *string `json:"msgKey"`
	MsgParam           *string `json:"msgParam"`
	CoolAppCode        *string `json:"coolAppCode"`
	// groupMessages/query and recall.
	ProcessQueryKey  *string  `json:"processQueryKey"`
	ProcessQueryKeys []string `json:"processQueryKeys"`
	MaxResults       *int     `json:"maxResults"`
	NextToken        *string  `json:"nextToken"`
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

// readRobot decodes a robot API's body and names its group and robot.
func (h *Handler) readRobot(c *call) (req robotRequest, cid, robot string, err error) {
	if err = h.decode(c, &req, fail(errParameter)); err != nil {
		return req, "", "", err
	}
	cid, robot, err = req.group()
	return req, cid, robot, err
}

func (h *Handler) addRobot(c *call) (any, error) {
	_, cid, robot, err := h.readRobot(c)
	if err != nil {
		return nil, err
	}
	if err := h.svc.AddRobot(c.r.Context(), c.actor, cid, robot); err != nil {
		return nil, toFailure(err, robotOverrides)
	}
	return map[string]bool{"result": true}, nil
}

func (h *Handler) sendGroupMessage(c *call) (any, error) {
	req, cid, robot, err := h.readRobot(c)
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

// Read receipts are paged: maxResults (default and at most 200) readers
// from the offset in nextToken.
const (
	defaultReaders = 200
	maxReaderPage  = 200
)

type readUser struct {
	UserID  string `json:"userId"`
	UnionID string `json:"unionId"`
}

type queryAnswer struct {
	SendStatus  string     `json:"sendStatus"`
	ReadUserIDs []string   `json:"readUserIds"`
	ReadUsers   []readUser `json:"readUsers"`
	HasMore     bool       `json:"hasMore"`
	NextToken   string     `json:"nextToken,omitempty"`
}

func (h *Handler) queryGroupMessage(c *call) (any, error) {
	req, cid, robot, err := h.readRobot(c)
	if err != nil {
		return nil, err
	}
	if req.ProcessQueryKey == nil || *req.ProcessQueryKey == "" {
		return nil, fail(errQueryKeyMissing)
	}
	if robot != c.actor.App.Key {
		return nil, fail(errRobotCodeBad)
	}
	size, from := defaultReaders, 0
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > maxReaderPage {
			return nil, fail(errParameter)
		}
		size = *req.MaxResults
	}
	if req.NextToken != nil && *req.NextToken != "" {
		n, err := strconv.Atoi(*req.NextToken)
		if err != nil || n < 0 {
			return nil, fail(errParameter)
		}
		from = n
	}
	readers, err := h.svc.Readers(c.r.Context(), c.actor, cid, *req.ProcessQueryKey)
	if err != nil {
		return nil, toFailure(err, robotOverrides)
	}
	out := queryAnswer{SendStatus: "SUCCESS", ReadUserIDs: []string{}, ReadUsers: []readUser{}}
	for i := from; i < len(readers) && i < from+size; i++ {
		u := readers[i]
		out.ReadUserIDs = append(out.ReadUserIDs, u.UserID)
		out.ReadUsers = append(out.ReadUsers, readUser{UserID: u.UserID, UnionID: u.Alias(qun.UnionID, c.actor.App.Developer)})
	}
	if from+size < len(readers) {
		out.HasMore, out.NextToken = true, strconv.Itoa(from+size)
	}
	return out, nil
}

// maxRecall is how many messages one recall names at most.
const maxRecall = 20

func (h *Handler) recallGroupMessages(c *call) (any, error) {
	req, cid, robot, err := h.readRobot(c)
	if err != nil {
		return nil, err
	}
	if len(req.ProcessQueryKeys) == 0 {
		return nil, fail(errQueryKeyMissing)
	}
	if len(req.ProcessQueryKeys) > maxRecall {
		return nil, fail(errParameter)
	}
	if robot != c.actor.App.Key {
		return nil, fail(errRobotCodeBad)
	}
	// Each message is recalled on its own: the answer sorts the keys into
	// those recalled and those that failed, with the reason.
	out := struct {
		SuccessResult []string          `json:"successResult"`
		FailedResult  map[string]string `json:"failedResult"`
	}{SuccessResult: []string{}, FailedResult: map[string]string{}}
	for _, key := range req.ProcessQueryKeys {
		err := h.svc.RecallMessage(c.r.Context(), c.actor, cid, key)
		switch qun.ErrorReason(err) {
		case "":
			if err != nil {
				return nil, err
			}
			out.SuccessResult = append(out.SuccessResult, key)
		case qun.ReasonMessageRecalled:
			out.FailedResult[key] = "MESSAGE_RECALLED"
		case qun.ReasonMessageNotFound, qun.ReasonNotSender:
			out.FailedResult[key] = "INVALID_PROCESS_QUERY_KEY"
		default:
			return nil, toFailure(err, robotOverrides)
		}
	}
	return out, nil
}
