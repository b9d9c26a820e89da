package feishu_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	lark "github.com/larksuite/oapi-sdk-go/v3"
	larkcore "github.com/larksuite/oapi-sdk-go/v3/core"

	"github.com/qunhq/qun/quntest"
)

// The demo directory's Feishu identities (internal/fixtures/demo.yaml).
const (
	demoTenant    = "736588c9260f175e"
	partnerTenant = "2ed263bf32cf1651"
	appID         = "cli_a10fbf7e94b8d01d"
	appSecret     = "demo-feishu-secret"
	ownerOpenID   = "ou_7d8a6e6df7621556ce0d21922b676706ccs"
	ownerUnionID  = "on_cad4860e7af114fb4ff6c5d496d1dd76"
	helperApp     = "cli_b20fbf7e94b8d02e"
	noBotApp      = "cli_c30fbf7e94b8d03f"
	disabledApp   = "cli_d40fbf7e94b8d04a"
	storeApp      = "cli_e50fbf7e94b8d05b"
	innerApp      = "cli_f60fbf7e94b8d06c"
	noScopeApp    = "cli_070fbf7e94b8d07d"
	lockedApp     = "cli_a30fbf7e94b8d21b"
)

// secrets of the demo apps.
var secrets = map[string]string{
	appID:       appSecret,
	helperApp:   "demo-helper-secret",
	noBotApp:    "demo-nobot-secret",
	disabledApp: "demo-disabled-secret",
	storeApp:    "demo-store-secret",
	innerApp:    "demo-inner-secret",
	noScopeApp:  "demo-noscope-secret",
	lockedApp:   "demo-locked-secret",
}

var ctx = context.Background()

// client returns an official SDK client of a demo app pointed at srv, with
// a token cache of its own.
func client(srv *quntest.Server, app string) *lark.Client {
	return lark.NewClient(app, secrets[app],
		lark.WithOpenBaseUrl(srv.URL),
		lark.WithLogLevel(larkcore.LogLevelError),
		lark.WithTokenCache(quntest.NewTokenCache()),
	)
}

// adminUser is a user as the admin API lists it.
type adminUser struct {
	Tenant  string `json:"tenant"`
	UserID  string `json:"user_id"`
	Status  string `json:"status"`
	Aliases []struct {
		Kind, Scope, Value string
	} `json:"aliases"`
}

// openID returns the open_id of a demo user in app's scope.
func openID(t *testing.T, srv *quntest.Server, tenant, userID, app string) string {
	t.Helper()
	var out struct{ Users []adminUser }
	if err := srv.Admin("GET", "/admin/v1/users?platform=feishu&tenant="+tenant, nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Users {
		if u.UserID != userID {
			continue
		}
		for _, a := range u.Aliases {
			if a.Kind == "open_id" && a.Scope == app {
				return a.Value
			}
		}
	}
	t.Fatalf("no open_id of %s/%s for %s", tenant, userID, app)
	return ""
}

// adminChat is a chat as the admin API shows it.
type adminChat struct {
	ChatID   string `json:"chat_id"`
	Platform string `json:"platform"`
	Tenant   string `json:"tenant"`
	Name     string `json:"name"`
	External bool   `json:"external"`
	Status   string `json:"status"`
	Settings struct {
		Visibility       string `json:"visibility"`
		Threaded         bool   `json:"threaded"`
		ApprovalRequired bool   `json:"approval_required"`
		JoinNotice       string `json:"join_notice"`
		WhoCanEdit       string `json:"who_can_edit"`
		MemberCountFor   string `json:"member_count_for"`
		Restricted       struct {
			On         bool   `json:"on"`
			Screenshot string `json:"screenshot"`
		} `json:"restricted"`
		Labels []string `json:"labels"`
	} `json:"settings"`
	Members []struct {
		Role string `json:"role"`
		User *struct {
			Tenant string `json:"tenant"`
			UserID string `json:"user_id"`
		} `json:"user"`
		Bot string `json:"bot"`
	} `json:"members"`
}

func chats(t *testing.T, srv *quntest.Server) []adminChat {
	t.Helper()
	var out struct{ Chats []adminChat }
	if err := srv.Admin("GET", "/admin/v1/chats?platform=feishu", nil, &out); err != nil {
		t.Fatal(err)
	}
	return out.Chats
}

func chatByID(t *testing.T, srv *quntest.Server, id string) adminChat {
	t.Helper()
	var c adminChat
	if err := srv.Admin("GET", "/admin/v1/chats/"+id, nil, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// rawResponse is an answer read without the SDK.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r rawResponse) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, r.Body)
	}
	return m
}

// do sends a raw request; header "" for Authorization sends none.
func do(t *testing.T, method, url, authorization, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// tenantToken gets a tenant_access_token over plain HTTP.
func tenantToken(t *testing.T, srv *quntest.Server, app string) string {
	t.Helper()
	r := do(t, "POST", srv.URL+"/open-apis/auth/v3/tenant_access_token/internal", "", `{"app_id":"`+app+`","app_secret":"`+secrets[app]+`"}`)
	m := r.JSON(t)
	tok, _ := m["tenant_access_token"].(string)
	if tok == "" {
		t.Fatalf("no token for %s: %s", app, r.Body)
	}
	return tok
}

// drain runs an SDK iterator to its end, failing the test if it does not
// stop within limit items.
func drain[T any](t *testing.T, limit int, next func() (bool, T, error)) []T {
	t.Helper()
	var out []T
	for {
		more, item, err := next()
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			return out
		}
		if len(out) >= limit {
			t.Fatalf("the iterator does not stop after %d items", limit)
		}
		out = append(out, item)
	}
}
