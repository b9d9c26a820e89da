package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/qunhq/qun/internal/fixtures"
	"github.com/qunhq/qun/internal/qun"
	"github.com/qunhq/qun/internal/stores"
)

// The preloaded chats: in the demo's Feishu tenant, created by its app,
// the demo bot and one user (owner) in each, with IDs qunload can
// recompute (preloadChatID), so that the load needs no listing first.
const (
	preloadTenant = "736588c9260f175e"
	preloadApp    = "cli_a10fbf7e94b8d01d"
	preloadBatch  = 10000
)

// preloadChatID is the chat_id of the i-th preloaded chat.
func preloadChatID(i int) string { return fmt.Sprintf("oc_%032x", i+1) }

// preload builds a data directory (or fills a PostgreSQL schema) with the
// demo directory and n chats of
// two members each, writing in large transactions (a growth benchmark
// needs a million chats in minutes, not the hours the API would take).
func preload(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("qunload preload", flag.ContinueOnError)
	data := fs.String("data", "", "data directory to fill (qun serve --data); must not exist")
	dbURL := fs.String("db", "", "a postgres:// URL (an empty schema) to fill instead of a data directory (qun serve --db)")
	n := fs.Int("chats", 10000, "how many chats")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*data == "") == (*dbURL == "") {
		return fmt.Errorf("preload: give one of -data and -db")
	}
	if _, err := os.Stat(*data); *data != "" && err == nil {
		return fmt.Errorf("preload: %s exists", *data)
	}
	ctx := context.Background()
	start := time.Now()
	db, err := stores.Open(ctx, *dbURL, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := qun.NewService(db)
	d, raw, err := fixtures.Load("")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	if _, _, err := svc.Bootstrap(ctx, d, hex.EncodeToString(sum[:])); err != nil {
		return err
	}
	var (
		tenant qun.Tenant
		app    qun.App
		users  []qun.User
	)
	err = db.View(ctx, func(tx qun.Tx) error {
		if tenant, err = tx.TenantByKey(qun.Feishu, preloadTenant); err != nil {
			return err
		}
		if app, err = tx.AppByKey(qun.Feishu, tenant.ID, preloadApp); err != nil {
			return err
		}
		all, err := tx.Users(qun.Feishu, tenant.ID)
		for _, u := range all {
			if u.Status == qun.Active {
				users = append(users, u)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	base := time.Now().Add(-time.Duration(*n) * time.Second).Truncate(time.Millisecond)
	// Batches in parallel: a network store waits on round trips (SQLite
	// runs them one after another in its writer anyway).
	var (
		wg    sync.WaitGroup
		errs  = make(chan error, 1)
		slots = make(chan struct{}, 4)
	)
	for from := 0; from < *n; from += preloadBatch {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			err := db.Update(ctx, func(tx qun.Tx) error {
				for i := from; i < min(from+preloadBatch, *n); i++ {
					at := base.Add(time.Duration(i) * time.Second)
					owner := users[i%len(users)]
					c := qun.Chat{
						ChatID: preloadChatID(i), Class: qun.Internal, Platform: qun.Feishu, TenantID: tenant.ID,
						CreatorApp: app.ID, OwnerUser: owner.ID,
						Name:     preloadName(i),
						Settings: qun.DefaultSettings(), Status: qun.Normal, CreatedAt: at, UpdatedAt: at,
					}
					members := []qun.Member{{User: owner.ID, Role: qun.RoleOwner, JoinedAt: at}, {App: app.ID, Role: qun.RoleMember, JoinedAt: at}}
					if err := tx.CreateChatWithMembers(&c, members); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	if err := db.Close(); err != nil {
		return err
	}
	if *data == "" {
		fmt.Fprintf(out, "preloaded %d chats (%d members) into %s in %s\n", *n, 2**n, stores.Redact(*dbURL), time.Since(start).Round(time.Millisecond))
		return nil
	}
	size := int64(0)
	filepath.Walk(*data, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	fmt.Fprintf(out, "preloaded %d chats (%d members) into %s in %s; %d bytes on disk, %d bytes a chat\n",
		*n, 2**n, *data, time.Since(start).Round(time.Millisecond), size, size/int64(max(1, *n)))
	return nil
}

// hanzi are common characters preloaded names are made of: 400 of them,
// so that names have the variety of real ones (160,000 pairs).
var hanzi = []rune("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严")

// preloadName is the name of the i-th preloaded chat: four characters
// drawn from hanzi and a number, e.g. "的人中会 周会 42".
func preloadName(i int) string {
	h := uint64(i)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	var name []rune
	for range 4 {
		h ^= h >> 29
		h *= 0xBF58476D1CE4E5B9
		name = append(name, hanzi[h%uint64(len(hanzi))])
	}
	return fmt.Sprintf("%s 周会 %d", string(name), i)
}
