package sqlite_test

import (
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/sqlite"
	"github.com/qunhq/qun/internal/storetest"
)

// recorder keeps the distinct queries the stores issue, with the arguments
// of their first run.
type recorder struct {
	mu sync.Mutex
	m  map[string][]any
}

func (r *recorder) add(query string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[query]; !ok {
		r.m[query] = append([]any(nil), args...)
	}
}

// smallTables may be scanned: they hold the directory's configuration,
// which grows with what an operator sets up, not with use.
var smallTables = map[string]string{
	"tenants":           "one row per tenant the operator created",
	"apps":              "one row per app the operator created",
	"links":             "one row per corporation link the operator created",
	"meta":              "a handful of keys",
	"schema_migrations": "one row per migration",
	"json_each":         "the statement's own argument (a list of grams)",
}

// exceptions are queries whose scan or sort is bounded by something other
// than the store's size, each with the reason.
var exceptions = []struct {
	query  *regexp.Regexp
	reason string
}{
	{regexp.MustCompile(`^DELETE FROM \w+$`), "Reset wipes the store: its cost is the store's size by definition"},
	{regexp.MustCompile(`^SELECT b FROM friendships WHERE a = \? UNION SELECT a FROM friendships WHERE b = \? ORDER BY 1$`), "sorts one user's friends (both index seeks)"},
	{regexp.MustCompile(`FROM chats c ORDER BY c\.id( DESC)? LIMIT \?$`), "reads LIMIT chats in id order and stops (the admin listing and the console are limited)"},
	{regexp.MustCompile(`FROM events (WHERE id < \? )?ORDER BY id DESC LIMIT \?$`), "the unfiltered journal reads LIMIT events newest first and stops"},
	{regexp.MustCompile(`FROM chats c ORDER BY c\.id$`), "the conformance suite lists every chat; no API does (the admin listing is limited)"},
	{regexp.MustCompile(`FROM chats c WHERE \(EXISTS \(SELECT 1 FROM members WHERE chat_id = c\.id AND app_id = \?\) OR \(c\.public = 1 AND c\.tenant_id = \?\)\) AND c\.status = \? ORDER BY c\.id$`), "only the conformance suite asks for a bot's chats with its tenant's public ones without a keyword; the core asks with one (search), which the gram index drives"},
	{regexp.MustCompile(`^SELECT id, search FROM chats$`), "fills the search index once, when a database is upgraded to schema 6"},
	{regexp.MustCompile(`^DELETE FROM apps WHERE id = \?$`), "deleting an app (an admin's act) clears it from the chats it created or owns (ON DELETE SET NULL): one scan, where indexes for it would cost every create three entries (migration 10)"},
	{regexp.MustCompile(`FROM chats c WHERE c\.name = \? ORDER BY c\.id$`), "only the conformance suite filters by name alone; the core looks names up among a tenant's public chats (chats_public_name)"},
	{regexp.MustCompile(`^INSERT INTO members .* FROM json_each\(\?\) WHERE true ORDER BY key ON CONFLICT`), "a batch of members sorts its own argument (json_each) into the order it was given"},
	{regexp.MustCompile(`^SELECT u\.id, .* WHERE \? IN \('', t\.platform\) AND \? IN \(0, u\.tenant_id\)`), "Users lists every user of a platform for one write only: giving every user the identifiers of a new app (a directory change whose size is the users'); every listing pages (UsersAfter)"},
}

// pending are the plans still known to grow with the store, left for the
// rest of "Scale with the data" (issue 9). The test fails when one of them
// stops matching a recorded scan, so the list only shrinks.
var pending = []struct {
	query  *regexp.Regexp
	reason string
}{}

// aliases of tables in the store's SQL.
var tableOf = map[string]string{"u": "users", "t": "tenants", "a": "aliases", "c": "chats", "m": "members", "g": "chat_grams"}

var scan = regexp.MustCompile(`^SCAN (\w+)`)

// coroutine names a subquery's result in a plan.
var coroutine = regexp.MustCompile(`^CO-ROUTINE (\w+)`)

// TestQueryPlans runs the conformance suite and the dialects' APIs, records
// every query the store issues, and checks SQLite's plan for each: no full
// scan of a table that grows with use (chats, members, users, aliases,
// tokens, dedupe, friendships), and no sort of all the rows a filter
// matches, so that no read path costs more as the store grows.
func TestQueryPlans(t *testing.T) {
	// The workload's node must run on SQLite, whatever the run is for.
	t.Setenv(pgtest.Env, "")
	rec := &recorder{m: map[string][]any{}}
	sqlite.SetTrace(rec.add)
	t.Run("conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) qun.Store {
			return open(t, filepath.Join(t.TempDir(), "qun.db"))
		})
	})
	t.Run("dialects", storetest.DialectWorkload)
	sqlite.SetTrace(nil)

	db := open(t, filepath.Join(t.TempDir(), "plans.db"))
	defer db.Close()
	queries := make([]string, 0, len(rec.m))
	for q := range rec.m {
		queries = append(queries, q)
	}
	sort.Strings(queries)
	if len(queries) < 40 {
		t.Fatalf("recorded only %d distinct queries", len(queries))
	}
	var allowed []string
	stillPending := make([]bool, len(pending))
	for _, q := range queries {
		plan, err := sqlite.ExplainQueryPlan(db, q, rec.m[q])
		if err != nil {
			t.Errorf("EXPLAIN %s: %v", q, err)
			continue
		}
		// A co-routine is a subquery's result: scanning it costs what the
		// subquery's own steps (checked here too) cost.
		coroutines := map[string]bool{}
		for _, step := range plan {
			if m := coroutine.FindStringSubmatch(step); m != nil {
				coroutines[m[1]] = true
			}
		}
		for _, step := range plan {
			bad := ""
			if m := scan.FindStringSubmatch(step); m != nil && !coroutines[m[1]] {
				table := m[1]
				if full, ok := tableOf[table]; ok {
					table = full
				}
				if why, ok := smallTables[table]; ok {
					allowed = append(allowed, table+": "+why)
					continue
				}
				bad = "full scan"
			}
			if strings.Contains(step, "USE TEMP B-TREE FOR") && strings.Contains(step, "ORDER BY") {
				bad = "sorts every matching row"
			}
			if bad == "" {
				continue
			}
			if why := exception(oneLine(q)); why != "" {
				allowed = append(allowed, why)
				continue
			}
			if i := pendingIndex(oneLine(q)); i >= 0 {
				stillPending[i] = true
				continue
			}
			{
				t.Errorf("%s (%s) in the plan of\n  %s\nplan:\n  %s", bad, step, oneLine(q), strings.Join(plan, "\n  "))
			}
		}
	}
	for i, p := range pending {
		if !stillPending[i] {
			t.Errorf("pending %q matches no scan any more: take it off the list", p.query)
		}
	}
	slices.Sort(allowed)
	t.Logf("%d distinct queries checked; allowed scans: %v", len(queries), slices.Compact(allowed))
}

func oneLine(q string) string { return strings.Join(strings.Fields(q), " ") }

func exception(q string) string {
	for _, e := range exceptions {
		if e.query.MatchString(q) {
			return e.reason
		}
	}
	return ""
}

func pendingIndex(q string) int {
	for i, p := range pending {
		if p.query.MatchString(q) {
			return i
		}
	}
	return -1
}
