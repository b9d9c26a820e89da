package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/qunhq/qun/internal/postgres"
)

// pgfloor measures what PostgreSQL itself allows for a create: clients
// that each run transactions inserting one chat and two members into
// qun's own tables (a schema migrated by the store), as one statement (a
// CTE) or, with -statements 3, as three. No HTTP, no rules: the floor qun
// on PostgreSQL is compared with.
func pgfloor(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("qunload pgfloor", flag.ContinueOnError)
	db := fs.String("db", "", "postgres:// URL of an empty schema (its search_path), migrated here")
	clients := fs.Int("c", 32, "concurrent clients")
	duration := fs.Duration("d", 10*time.Second, "how long to run")
	statements := fs.Int("statements", 1, "statements per transaction: 1 (a CTE) or 3")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" {
		return errors.New("pgfloor needs -db")
	}
	ctx := context.Background()
	store, err := postgres.Open(ctx, *db)
	if err != nil {
		return err
	}
	store.Close()
	cfg, err := pgxpool.ParseConfig(*db)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(*clients)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	var tenant int64
	if err := pool.QueryRow(ctx, `INSERT INTO tenants (platform, key, data) VALUES ('feishu', 'floor-'||now()::text, '{}') RETURNING id`).Scan(&tenant); err != nil {
		return err
	}
	var user, app int64
	if err := pool.QueryRow(ctx, `INSERT INTO users (tenant_id, user_id, data) VALUES ($1, 'floor', '{}') RETURNING id`, tenant).Scan(&user); err != nil {
		return err
	}
	if err := pool.QueryRow(ctx, `INSERT INTO apps (tenant_id, platform, key, data) VALUES ($1, 'feishu', $2, '{}') RETURNING id`, tenant, fmt.Sprintf("cli_floor_%d", tenant)).Scan(&app); err != nil {
		return err
	}
	var seq atomic.Int64
	create := func(tx pgx.Tx) error {
		id := fmt.Sprintf("oc_floor_%d_%d", tenant, seq.Add(1))
		if *statements == 1 {
			_, err := tx.Exec(ctx, `WITH c AS (INSERT INTO chats (chat_id, platform, tenant_id, name, status, data) VALUES ($1, 'feishu', $2, 'floor', 'normal', '{}') RETURNING id)
				INSERT INTO members (chat_id, user_id, app_id, role, joined_at) SELECT c.id, $3::bigint, NULL::bigint, 'owner', 0 FROM c
				UNION ALL SELECT c.id, NULL, $4::bigint, 'member', 0 FROM c`, id, tenant, user, app)
			return err
		}
		var chat int64
		if err := tx.QueryRow(ctx, `INSERT INTO chats (chat_id, platform, tenant_id, name, status, data) VALUES ($1, 'feishu', $2, 'floor', 'normal', '{}') RETURNING id`, id, tenant).Scan(&chat); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO members (chat_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', 0)`, chat, user); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO members (chat_id, app_id, role, joined_at) VALUES ($1, $2, 'member', 0)`, chat, app)
		return err
	}
	latencies, failures, firstFail, elapsed := drive(*clients, *duration, func(int, *rand.Rand) error {
		return pgx.BeginFunc(ctx, pool, create)
	})
	p99 := time.Duration(0)
	if len(latencies) > 0 {
		p99 = latencies[min(len(latencies)-1, len(latencies)*99/100)]
	}
	fmt.Fprintf(out, "pgfloor, %d statement(s), %d clients, %s\n", *statements, *clients, elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "  ok %d, failed %d, %.0f tx/s, p99 %s\n", len(latencies), failures, float64(len(latencies))/elapsed.Seconds(), p99.Round(time.Microsecond))
	if firstFail != "" {
		fmt.Fprintf(out, "  first failure: %s\n", firstFail)
	}
	return nil
}
