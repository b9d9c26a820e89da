package postgres_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/qunhq/qun/internal/pgtest"
	"github.com/qunhq/qun/internal/postgres"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/storetest"
)

// growing are the tables that grow with use; the rest (tenants, apps,
// links, meta, schema_migrations) hold what an operator configured.
var growing = []string{"chats", "members", "users", "aliases", "tokens", "dedupe", "friendships", "chat_grams", "events", "attempts", "messages"}

// planExceptions are queries that may read a growing table without an
// index condition, each with the reason (the same as SQLite's, in this
// store's SQL).
var planExceptions = []struct {
	query  *regexp.Regexp
	reason string
}{
	{regexp.MustCompile(`^DELETE FROM \w+$`), "Reset wipes the store: its cost is the store's size by definition"},
	{regexp.MustCompile(`^SELECT b FROM friendships WHERE a = \$1 UNION SELECT a FROM friendships WHERE b = \$2 ORDER BY 1$`), "sorts one user's friends (both index seeks)"},
	{regexp.MustCompile(`FROM events (WHERE id < \$\d+ )?ORDER BY id DESC LIMIT \$\d+$`), "the unfiltered journal reads LIMIT events newest first and stops"},
	{regexp.MustCompile(`LEFT JOIN aliases a ON a\.user_id = u\.id WHERE (u\.id = \$1|u\.tenant_id = \$1 AND u\.user_id = \$2) ORDER BY u\.id, a\.kind, a\.scope$`), "sorts one user's aliases (one per app at most): the outer join hides from the planner that aliases_user already yields them in order"},
	{regexp.MustCompile(`^SELECT g FROM unnest\(\$1::text\[\]\) WITH ORDINALITY AS k \(g, i\), LATERAL`), "sorts the grams of its own argument, each counted up to a LIMIT"},
	{regexp.MustCompile(`FROM chats c ORDER BY c\.id( DESC)? LIMIT \$\d+$`), "reads LIMIT chats in id order and stops (the admin listing and the console are limited)"},
	{regexp.MustCompile(`FROM chats c ORDER BY c\.id$`), "the conformance suite lists every chat; no API does (the admin listing is limited)"},
	{regexp.MustCompile(`FROM chats c WHERE c\.name = \$1 ORDER BY c\.id$`), "only the conformance suite filters by name alone; the core looks names up among a tenant's public chats (chats_public_name)"},
	{regexp.MustCompile(`FROM chats c WHERE \(EXISTS \(SELECT 1 FROM members WHERE chat_id = c\.id AND app_id = \$1\) OR \(c\.public AND c\.tenant_id = \$2\)\) AND c\.status = \$3 ORDER BY c\.id$`), "only the conformance suite asks for a bot's chats with its tenant's public ones without a keyword; the core asks with one (search), which the gram index drives"},
	{regexp.MustCompile(`^WITH c AS \(UPDATE chats SET creator_app = nullif\(creator_app, \$1::bigint\), owner_app = nullif\(owner_app, \$2::bigint\) WHERE creator_app = \$3 OR owner_app = \$4\), m AS \(DELETE FROM members WHERE app_id = \$5\) DELETE FROM apps WHERE id = \$6$`), "deleting an app (an admin's act) clears it from the chats it created or owns: one scan, where indexes for it would cost every create two entries (migration 7)"},
	{regexp.MustCompile(`WHERE \$1::text IN \('', t\.platform\) AND \$2::bigint IN \(0, u\.tenant_id\) ORDER BY`), "Users lists every user of a platform for one write only: giving every user the identifiers of a new app; every listing pages (UsersAfter)"},
}

// TestQueryPlans runs the conformance suite and the dialects' APIs on
// PostgreSQL, records every statement the store issues, and checks
// PostgreSQL's plan for each with sequential scans priced out: no scan of
// a growing table without an index condition (a sequential scan, or an
// index read from end to end), so that no read path costs more as the
// store grows.
func TestQueryPlans(t *testing.T) {
	if pgtest.URL() == "" {
		t.Skipf("%s is not set", pgtest.Env)
	}
	var (
		mu   sync.Mutex
		seen = map[string][]any{}
	)
	postgres.SetTrace(func(q string, args []any) {
		if q == "COMMIT" || q == "ROLLBACK" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen[q]; !ok {
			seen[q] = append([]any(nil), args...)
		}
	})
	t.Run("conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) qun.Store { return open(t, "") })
	})
	t.Run("dialects", storetest.DialectWorkload)
	postgres.SetTrace(nil)

	db := open(t, "")
	queries := slices.Sorted(func(yield func(string) bool) {
		for q := range seen {
			if !yield(q) {
				return
			}
		}
	})
	if len(queries) < 40 {
		t.Fatalf("recorded only %d distinct statements", len(queries))
	}
	idx := indexes(t, db)
	used := map[string]bool{}
	for _, q := range queries {
		plan, err := postgres.Explain(db, q, seen[q])
		if err != nil {
			t.Errorf("EXPLAIN %s: %v", oneLine(q), err)
			continue
		}
		bads := unbounded(plan, idx)
		if sorts(plan, idx) {
			bads = append(bads, "a sort of every matching row")
		}
		for _, bad := range bads {
			if r := exception(oneLine(q)); r != "" {
				used[r] = true
				continue
			}
			t.Errorf("%s in the plan of\n  %s\nplan:\n  %s", bad, oneLine(q), strings.Join(plan, "\n  "))
		}
	}
	t.Logf("%d distinct statements checked; exceptions used: %d of %d", len(queries), len(used), len(planExceptions))
}

// index is what the check needs of an index: its table and its leading
// column, the one a condition must bound for the scan to be a range.
type index struct{ table, lead string }

// indexes reads the schema's indexes.
func indexes(t *testing.T, db *postgres.DB) map[string]index {
	rows, err := db.Pool().Query(context.Background(), `SELECT i.relname, c.relname, a.attname FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
		JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
		WHERE c.relnamespace = current_schema()::regnamespace`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]index{}
	for rows.Next() {
		var name string
		var ix index
		if err := rows.Scan(&name, &ix.table, &ix.lead); err != nil {
			t.Fatal(err)
		}
		out[name] = ix
	}
	if len(out) < 20 {
		t.Fatalf("read %d indexes", len(out))
	}
	return out
}

var (
	seqScan   = regexp.MustCompile(`^Seq Scan on (\w+)`)
	indexScan = regexp.MustCompile(`^(?:Index Scan|Index Only Scan)(?: Backward)? using (\w+) on (\w+)|^Bitmap Index Scan on (\w+)`)
)

// unbounded lists the plan's reads of growing tables that no condition on
// an index's leading column bounds: a sequential scan, or an index read
// from end to end (with no condition, or one on a later column only).
func unbounded(plan []string, idx map[string]index) []string {
	var out []string
	for i, line := range plan {
		if m := seqScan.FindStringSubmatch(line); m != nil {
			if slices.Contains(growing, m[1]) {
				out = append(out, "sequential scan of "+m[1])
			}
			continue
		}
		m := indexScan.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name := m[1] + m[3]
		ix, ok := idx[name]
		if !ok || !slices.Contains(growing, ix.table) {
			continue
		}
		lead := regexp.MustCompile(`\b` + ix.lead + `\b`)
		bounded := false
		for _, detail := range plan[i+1:] {
			if strings.Contains(detail, "(cost=") {
				break // the next node
			}
			if strings.HasPrefix(detail, "Index Cond:") && lead.MatchString(detail) {
				bounded = true
			}
		}
		if !bounded {
			out = append(out, "index "+name+" read end to end on "+ix.table)
		}
	}
	return out
}

var presortedByID = regexp.MustCompile(`^Presorted Key: (\w+\.)?id$`)

var sortNode = regexp.MustCompile(`^(?:Incremental )?Sort\b.*\(cost=`)

// sorts reports whether the plan sorts rows of a growing table: with sorts
// priced out, a Sort node is left only where no index gives the order, so
// it sorts every row the filter matches, however many the store holds.
func sorts(plan []string, idx map[string]index) bool {
	sorted := false
	for i, line := range plan {
		if !sortNode.MatchString(line) {
			continue
		}
		// An incremental sort presorted by a row's id sorts within one
		// row's children (a user's aliases): bounded by that row.
		if strings.HasPrefix(line, "Incremental") && i+2 < len(plan) && presortedByID.MatchString(plan[i+2]) {
			continue
		}
		sorted = true
	}
	if !sorted {
		return false
	}
	return slices.ContainsFunc(plan, func(line string) bool { return readsGrowing(line, idx) != "" })
}

// readsGrowing names the growing table a plan line reads, or "".
func readsGrowing(line string, idx map[string]index) string {
	if m := seqScan.FindStringSubmatch(line); m != nil && slices.Contains(growing, m[1]) {
		return m[1]
	}
	if m := indexScan.FindStringSubmatch(line); m != nil {
		if ix, ok := idx[m[1]+m[3]]; ok && slices.Contains(growing, ix.table) {
			return ix.table
		}
	}
	return ""
}

func exception(q string) string {
	for _, e := range planExceptions {
		if e.query.MatchString(q) {
			return e.reason
		}
	}
	return ""
}

func oneLine(q string) string { return strings.Join(strings.Fields(q), " ") }
