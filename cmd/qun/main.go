// Command qun runs the qun group-chat server: one process serving the
// Feishu, DingTalk and WeCom chat APIs over one store.
//
// Usage:
//
//	qun serve [flags]   start a node (see qun help)
//	qun fixtures        print the built-in demo directory (a fixtures example)
//	qun version         print the version, commit and build date (also --version)
//	qun help            print help
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/server"
	"github.com/qunhq/qun/internal/stores"
	"github.com/qunhq/qun/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run executes a command line and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "help"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		if err := serve(ctx, args, getenv, stdout, stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintln(stderr, "qun:", err)
			return 1
		}
		return 0
	case "fixtures":
		stdout.Write(fixtures.Demo)
		return 0
	case "export":
		if err := export(ctx, args, getenv, stdout, stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintln(stderr, "qun:", err)
			return 1
		}
		return 0
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "qun", version.Get())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "qun: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
}

// options are serve's settings; each flag has an environment variable.
type options struct {
	addr, data, db, redis, fixtures, adminToken, logFormat, logLevel, rateLimits string
	reset                                                                        bool
	journal                                                                      int
	importFile, exportOnExit                                                     string
}

func flags(o *options, getenv func(string) string) *flag.FlagSet {
	fs := flag.NewFlagSet("qun serve", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	def := server.DefaultConfig()
	fs.StringVar(&o.addr, "addr", env("QUN_ADDR", def.Addr), "listen address (env QUN_ADDR)")
	fs.StringVar(&o.data, "data", env("QUN_DATA", def.DataDir), "directory of the embedded SQLite database (env QUN_DATA)")
	fs.StringVar(&o.db, "db", env("QUN_DB", ""), "a postgres:// URL to keep state in PostgreSQL, shared by every node on it; empty uses the embedded SQLite database in --data (env QUN_DB)")
	fs.StringVar(&o.redis, "redis", env("QUN_REDIS", ""), "a redis:// URL to keep the rate-limit windows in Redis, shared by every node using it; empty keeps them in the process (env QUN_REDIS)")
	fs.StringVar(&o.fixtures, "fixtures", env("QUN_FIXTURES", ""), "directory fixtures file (YAML); empty loads the demo directory (env QUN_FIXTURES)")
	fs.StringVar(&o.adminToken, "admin-token", env("QUN_ADMIN_TOKEN", ""), "token guarding the admin API and console; empty generates one (env QUN_ADMIN_TOKEN)")
	fs.StringVar(&o.logFormat, "log-format", env("QUN_LOG_FORMAT", "text"), "log format: text or json (env QUN_LOG_FORMAT)")
	fs.StringVar(&o.logLevel, "log-level", env("QUN_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env QUN_LOG_LEVEL)")
	fs.StringVar(&o.rateLimits, "rate-limits", env("QUN_RATE_LIMITS", "on"), "the platforms' rate limits: on or off (env QUN_RATE_LIMITS)")
	journal := def.Journal
	if v, err := strconv.Atoi(env("QUN_JOURNAL", "")); err == nil {
		journal = v
	}
	fs.IntVar(&o.journal, "journal", journal, "how many API calls the node's request journal keeps (GET /admin/v1/journal); 0 keeps none, for load tests (env QUN_JOURNAL)")
	fs.StringVar(&o.importFile, "import", env("QUN_IMPORT", ""), "a snapshot (qun export) to replace the state with at start (env QUN_IMPORT)")
	fs.StringVar(&o.exportOnExit, "export-on-exit", env("QUN_EXPORT_ON_EXIT", ""), "write a snapshot of the state to this file at shutdown (env QUN_EXPORT_ON_EXIT)")
	fs.BoolVar(&o.reset, "reset", false, "wipe the database and load the fixtures again (env QUN_RESET: true, 1, false, 0, ...)")
	return fs
}

// envBools sets the boolean options whose flag was not given from their
// environment variables, parsed as strconv.ParseBool does; anything else is
// an error rather than a silent false.
func envBools(fs *flag.FlagSet, getenv func(string) string, vars map[string]*bool) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, dst := range vars {
		env := "QUN_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		v := getenv(env)
		if given[name] || v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: want true or false (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)", env, v)
		}
		*dst = b
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `qun — an open-source server for the Feishu, DingTalk and WeCom group-chat APIs.

Usage:
  qun serve [flags]   start a node (embedded SQLite by default, PostgreSQL with --db)
  qun fixtures        print the built-in demo directory (an example fixtures file)
  qun export [flags]  write a snapshot of the state to stdout: from a running node
                      (--url, --admin-token) or a stopped one's store (--data, --db)
  qun version         print the version, commit and build date (also qun --version)
  qun help            print this help

Flags of serve:
`)
	var o options
	fs := flags(&o, func(string) string { return "" })
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func newLogger(o options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	// Durations read as 1.234ms in both formats (slog's JSON would write
	// nanoseconds).
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", o.logFormat)
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o options
	fs := flags(&o, getenv)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := envBools(fs, getenv, map[string]*bool{"reset": &o.reset}); err != nil {
		return err
	}
	log, err := newLogger(o, stderr)
	if err != nil {
		return err
	}
	store, err := stores.Open(ctx, o.db, o.data)
	if err != nil {
		return err
	}
	defer store.Close()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir, cfg.Fixtures, cfg.AdminToken, cfg.Logger, cfg.Store = o.addr, o.data, o.fixtures, o.adminToken, log, store
	if o.db != "" {
		cfg.DataDir = "" // the admin token is kept in the shared store
	}
	cfg.Redis, cfg.Journal = o.redis, o.journal
	switch o.rateLimits {
	case "on":
	case "off":
		cfg.Feishu.RateLimits, cfg.DingTalk.RateLimits, cfg.WeCom.RateLimits = nil, nil, nil
	default:
		return fmt.Errorf("--rate-limits %q: want on or off", o.rateLimits)
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	if o.reset {
		if err := srv.Reset(ctx); err != nil {
			srv.Shutdown(ctx)
			return err
		}
		log.Info("state reset to the fixtures")
	}
	if o.importFile != "" {
		if err := importSnapshot(ctx, srv, o.importFile); err != nil {
			srv.Shutdown(ctx)
			return err
		}
		log.Info("state replaced by the snapshot", "file", o.importFile)
	}
	if err := srv.Listen(); err != nil {
		srv.Shutdown(ctx)
		return err
	}
	banner(stdout, srv, o)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	select {
	case err := <-done:
		srv.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if o.exportOnExit != "" {
		// After the drain: the snapshot holds every answered write.
		if err := srv.ExportFile(context.Background(), o.exportOnExit); err != nil {
			return fmt.Errorf("--export-on-exit: %w", err)
		}
		log.Info("state exported", "file", o.exportOnExit)
	}
	return <-done
}

func importSnapshot(ctx context.Context, srv *server.Server, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--import: %w", err)
	}
	defer f.Close()
	snap, err := server.ReadSnapshot(f)
	if err != nil {
		return fmt.Errorf("--import %s: %w", path, err)
	}
	if err := srv.Restore(ctx, snap); err != nil {
		return fmt.Errorf("--import %s: %w", path, err)
	}
	return nil
}

// banner prints where the node listens and the credentials to use it.
func banner(w io.Writer, srv *server.Server, o options) {
	url := srv.URL()
	fmt.Fprintf(w, "qun %s listening on %s\n", version.Get(), url)
	if o.db != "" {
		fmt.Fprintf(w, "  store:       PostgreSQL %s\n", stores.Redact(o.db))
	} else {
		fmt.Fprintf(w, "  data:        %s\n", o.data)
	}
	source := o.fixtures
	if source == "" {
		source = "built-in demo directory (qun fixtures prints it)"
	}
	fmt.Fprintf(w, "  directory:   %s\n", source)
	fmt.Fprintf(w, "  admin token: %s\n", srv.AdminToken())
	fmt.Fprintf(w, "  console:     %s/console\n", url)
	fmt.Fprintf(w, "  metrics:     %s/metrics\n", url)
	seen := map[qun.Platform]bool{}
	for _, t := range srv.Directory().Tenants {
		if seen[t.Tenant.Platform] || len(t.Apps) == 0 {
			continue
		}
		seen[t.Tenant.Platform] = true
		a := t.Apps[0]
		fmt.Fprintf(w, "  %-9s    tenant %s, app %s, secret %s\n", t.Tenant.Platform+":", t.Tenant.Key, a.Key, a.Secret)
	}
	if _, ok := firstApp(srv.Directory(), qun.WeCom); ok {
		fmt.Fprintf(w, "  wecom client: %s/wecom/client/demo (a page in the simulated WeCom app)\n", url)
	}
	if a, ok := firstApp(srv.Directory(), qun.Feishu); ok {
		fmt.Fprintf(w, "\nTry it:\n  curl -s -X POST %s/open-apis/auth/v3/tenant_access_token/internal -H 'Content-Type: application/json' -d '{\"app_id\":\"%s\",\"app_secret\":\"%s\"}'\n", url, a.Key, a.Secret)
	}
}

func firstApp(d qun.Directory, p qun.Platform) (qun.App, bool) {
	for _, t := range d.Tenants {
		if t.Tenant.Platform == p && len(t.Apps) > 0 {
			return t.Apps[0], true
		}
	}
	return qun.App{}, false
}
