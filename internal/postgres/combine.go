package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Combining. An update whose only statement is its last (Tx.Last before
// anything was sent: a create that tells no bot, say) needs no connection
// of its own and no transaction of its own: the combiner sends it in one
// transaction with the other such updates waiting at that moment, one
// pipeline (BEGIN, each update's comparisons and statement, COMMIT) on one
// connection, one round trip and one commit for all of them. The outcome
// is as if they ran one after the other, which is what serializability
// promises; each is answered only once the COMMIT succeeded.
//
// A batch that fails anywhere (a statement's error, a comparison that
// moved, a COMMIT that failed to serialise) has written nothing, and each
// of its updates then runs alone, as it would have without the combiner,
// so that its answer is its own and never a neighbour's. Only a batch
// whose outcome is unknown (the connection broke once the COMMIT may have
// run) fails every update in it, as such a failure fails a lone update.
//
// Nothing waits for a batch to fill: an update is sent at once when fewer
// than the combiner's limit of batches are under way, and otherwise joins
// the next batch, which the first update to wait sends as soon as a batch
// ends. At low load every update is a batch of one, as before; under load
// the batches grow with the concurrency.

// defaultFlying is how many combined batches a node has under way at once
// unless its URL says (qun_combine): each is one backend executing its
// statements one after the other, so a few keep the server's cores and
// its disk flushes busy while concurrent updates still meet in batches.
// On a 2-core server with 32 clients, 2 measured ahead of 4 and 8.
const defaultFlying = 2

// maxBatch bounds the updates of one batch.
const maxBatch = 64

// member is an update waiting in the combiner: its comparisons, its
// statement and how to read the statement's results.
type member struct {
	ctx    context.Context
	expect [][2]string
	query  string
	args   []any
	read   func(pgx.BatchResults) error
	// wake is closed when the member's batch ended, or, with leads set,
	// when the member is to send the next batch itself: batch, which it
	// heads, taken from the queue when it was handed the place.
	wake  chan struct{}
	leads bool
	batch []*member
	// answer is read's error (pgx.ErrNoRows is an answer); err the
	// batch's when it failed for all; alone set when the member must run
	// by itself instead.
	answer, err error
	alone       bool
}

// combiner gathers the members waiting while batches are under way.
type combiner struct {
	db *DB
	// limit is how many batches may be under way at once; 0 turns
	// combining off.
	limit  int
	mu     sync.Mutex
	queue  []*member
	flying int
	// gate, when set (tests), is called before each batch is sent.
	gate func(n int)
	// batches, updates and failed count the batches sent, the updates
	// they carried and the batches that failed, whose updates ran alone.
	batches, updates, failed atomic.Int64
}

// Combined reports how many combined batches the store sent, how many
// updates they carried, and how many batches failed (their updates then
// ran alone), since it was opened.
func (db *DB) Combined() (batches, updates, failed int64) {
	c := &db.combiner
	return c.batches.Load(), c.updates.Load(), c.failed.Load()
}

// run sends m in a batch and returns once that batch ended.
func (c *combiner) run(m *member) {
	m.wake = make(chan struct{})
	c.mu.Lock()
	if c.flying < c.limit {
		c.flying++
		c.mu.Unlock()
		c.lead([]*member{m})
		return
	}
	c.queue = append(c.queue, m)
	c.mu.Unlock()
	<-m.wake
	if m.leads {
		c.lead(m.batch)
	}
}

// lead sends batch, then hands its place under way to the members queued
// meanwhile, if any: the first of them sends them all (up to maxBatch).
func (c *combiner) lead(batch []*member) {
	if c.gate != nil {
		c.gate(len(batch))
	}
	c.sendGuarded(batch)
	for _, o := range batch[1:] {
		close(o.wake)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		c.flying--
		return
	}
	n := min(len(c.queue), maxBatch)
	next := c.queue[0]
	next.batch = slices.Clone(c.queue[:n])
	c.queue = c.queue[n:]
	next.leads = true
	close(next.wake)
}

// queued counts the members waiting for a batch (tests).
func (c *combiner) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// sendGuarded sends the batch, turning a panic into every member's
// failure, so that the members waiting are always woken and the place
// under way always handed on.
func (c *combiner) sendGuarded(batch []*member) {
	defer func() {
		if v := recover(); v != nil {
			for _, m := range batch {
				m.err, m.alone = fmt.Errorf("postgres: combined batch panicked: %v", v), false
			}
		}
	}()
	c.send(batch)
}

// send runs the batch in one transaction and sets each member's outcome.
func (c *combiner) send(batch []*member) {
	var live []*member
	for _, m := range batch {
		if err := m.ctx.Err(); err != nil {
			m.err = err // nothing sent
			continue
		}
		live = append(live, m)
	}
	if len(live) == 0 {
		return
	}
	// A batch once sent is the server's to decide (Tx.Last): no member's
	// cancellation may interrupt it.
	ctx := context.WithoutCancel(live[0].ctx)
	conn, err := c.db.pool.Acquire(ctx)
	if err != nil {
		for _, m := range live {
			m.err = fmt.Errorf("postgres: connect: %w", err)
		}
		return
	}
	defer conn.Release()
	c.batches.Add(1)
	c.updates.Add(int64(len(live)))
	b := &pgx.Batch{}
	b.Queue(beginUpdate)
	for _, m := range live {
		for _, e := range m.expect {
			b.Queue(expectMeta, e[0], e[1])
		}
		b.Queue(m.query, m.args...)
	}
	b.Queue("COMMIT")
	br := conn.SendBatch(ctx, b)
	err = readBatch(br, live)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return
	case errors.As(err, &pe):
		// The server refused a statement or the COMMIT: nothing was
		// written. The connection is left in a failed transaction when a
		// statement failed; ROLLBACK ends it (after a failed COMMIT it
		// only warns).
		if _, rerr := conn.Exec(ctx, "ROLLBACK"); rerr != nil {
			conn.Conn().Close(ctx)
		}
		c.failed.Add(1)
		for _, m := range live {
			m.alone = true
		}
	default:
		// The COMMIT may or may not have run.
		conn.Conn().Close(ctx)
		for _, m := range live {
			m.err = fmt.Errorf("postgres: commit: %w", err)
		}
	}
}

// readBatch reads a sent batch's results in order, each member's answer
// into it, and returns the first failure (nil once the COMMIT succeeded).
func readBatch(br pgx.BatchResults, live []*member) error {
	if _, err := br.Exec(); err != nil {
		return err
	}
	for _, m := range live {
		for range m.expect {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		m.answer = m.read(br)
		if m.answer != nil && !errors.Is(m.answer, pgx.ErrNoRows) {
			return m.answer
		}
	}
	tag, err := br.Exec()
	if err == nil && tag.String() != "COMMIT" {
		err = fmt.Errorf("postgres: COMMIT answered %s", tag)
	}
	return err
}
