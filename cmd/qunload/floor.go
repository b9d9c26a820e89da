package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// floor serves what qun's Feishu create costs without qun: it decodes the
// same request body and answers a body of the same size, storing nothing.
// It is the ceiling against which BENCHMARKS.md measures qun's creates.
func floor(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("qunload floor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9090", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /open-apis/auth/v3/tenant_access_token/internal", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			AppID     string `json:"app_id"`
			AppSecret string `json:"app_secret"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		writeJSON(w, map[string]any{"code": 0, "msg": "ok", "tenant_access_token": "t-floor", "expire": 7200})
	})
	mux.HandleFunc("POST /open-apis/im/v1/chats", func(w http.ResponseWriter, r *http.Request) {
		// The shape of Feishu's create body, as qun's dialect decodes it.
		var in struct {
			Avatar      *string            `json:"avatar"`
			Name        *string            `json:"name"`
			Description *string            `json:"description"`
			I18nNames   map[string]*string `json:"i18n_names"`
			OwnerID     *string            `json:"owner_id"`
			UserIDList  []string           `json:"user_id_list"`
			BotIDList   []string           `json:"bot_id_list"`
			ChatMode    *string            `json:"chat_mode"`
			ChatType    *string            `json:"chat_type"`
			External    *bool              `json:"external"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("X-Tt-Logid", time.Now().Format("20060102150405")+"0123456789ABCDEF0123")
		// The same fields and sizes as qun's answer to qunload's create.
		writeJSON(w, map[string]any{"code": 0, "msg": "success", "data": map[string]any{
			"chat_id": "oc_0123456789abcdef0123456789abcdef", "avatar": "https://p3-lark-file.byteimg.com/img/lark-avatar-staging/default-avatar_44ae0ca3-e140-494b-956f-78091e348435~100x100.jpg",
			"name": in.Name, "description": "", "i18n_names": map[string]string{"zh_cn": "", "en_us": "", "ja_jp": ""},
			"owner_id": in.OwnerID, "owner_id_type": "open_id", "add_member_permission": "all_members", "share_card_permission": "allowed",
			"at_all_permission": "all_members", "edit_permission": "all_members", "chat_mode": "group", "chat_type": "private",
			"chat_tag": "inner", "external": false, "tenant_key": "736588c9260f175e", "join_message_visibility": "all_members",
			"leave_message_visibility": "all_members", "membership_approval": "no_approval_required", "moderation_permission": "all_members",
			"labels": []string{}, "toolkit_ids": []string{}, "restricted_mode_setting": map[string]any{"status": false, "screenshot_has_permission_setting": "all_members", "download_has_permission_setting": "all_members", "message_has_permission_setting": "all_members"},
			"urgent_setting": "all_members", "video_conference_setting": "all_members", "hide_member_count_setting": "all_members", "pin_manage_setting": "all_members",
		}})
	})
	mux.HandleFunc("POST /v1.0/oauth2/accessToken", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			AppKey    string `json:"appKey"`
			AppSecret string `json:"appSecret"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		writeJSON(w, map[string]any{"accessToken": "floor-dingtalk-token", "expireIn": 7200})
	})
	mux.HandleFunc("POST /v1.0/im/group/create", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name              *string  `json:"name"`
			Owner             *string  `json:"owner"`
			OwnerType         *string  `json:"ownerType"`
			Useridlist        []string `json:"useridlist"`
			Extidlist         []string `json:"extidlist"`
			ConversationTag   *int     `json:"conversationTag"`
			Icon              *string  `json:"icon"`
			ManagementOptions *struct {
				MentionAllAuthority, ShowHistoryType, ValidationType, Searchable, ChatBannedType, ManagementType *int
			} `json:"managementOptions"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		writeJSON(w, map[string]any{"conversationTag": 2, "openConversationId": "cid0123456789abcdefghij==", "chatid": "chat0123456789abcdef0123456789abcdef"})
	})
	mux.HandleFunc("GET /cgi-bin/gettoken", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "access_token": "floor-wecom-token", "expires_in": 7200})
	})
	mux.HandleFunc("POST /cgi-bin/appchat/create", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name     *string  `json:"name"`
			Owner    *string  `json:"owner"`
			Userlist []string `json:"userlist"`
			ChatID   *string  `json:"chatid"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "chatid": "wr0123456789abcdefghijklmnopqr"})
	})
	// The process's CPU, as qun's /metrics has it (read before and after
	// a run, never during one), on every platform.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	fmt.Fprintf(out, "qunload floor listening on http://%s\n", *addr)
	return http.ListenAndServe(*addr, mux)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(b)
}
