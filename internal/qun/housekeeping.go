package qun

import (
	"context"
	"time"
)

// TokenGrace is how long an expired token (or code, session, ticket) is
// kept before housekeeping deletes it: while it is kept, using it answers
// the platform's "expired" error (WeCom 42001) rather than "invalid".
const TokenGrace = 24 * time.Hour

// EventRetention is how long the journal keeps an event once it is
// delivered or has failed.
const EventRetention = 7 * 24 * time.Hour

// purgeBatch bounds one housekeeping transaction, so that it never holds
// the writer long enough to delay a create.
const purgeBatch = 500

// Purged counts what Housekeep deleted.
type Purged struct {
	Dedupe, Tokens, Events int
}

// Housekeep deletes the dedupe claims older than every platform's dedupe
// window, the tokens expired for longer than TokenGrace and the events
// finished for longer than EventRetention, in batches of
// purgeBatch rows, each batch its own transaction. It stops at the first
// error or when ctx ends.
func (s *Service) Housekeep(ctx context.Context) (Purged, error) {
	var p Purged
	now := s.now()
	var window time.Duration
	for _, r := range rulesOf {
		window = max(window, r.dedupeTTL)
	}
	for _, job := range []struct {
		count *int
		purge func(Tx) (int, error)
	}{
		{&p.Dedupe, func(tx Tx) (int, error) { return tx.PurgeDedupe(now.Add(-window), purgeBatch) }},
		{&p.Tokens, func(tx Tx) (int, error) { return tx.PurgeTokens(now.Add(-TokenGrace), purgeBatch) }},
		{&p.Events, func(tx Tx) (int, error) { return tx.PurgeEvents(now.Add(-EventRetention), purgeBatch) }},
	} {
		for {
			var n int
			err := s.store.Update(ctx, func(tx Tx) error {
				var err error
				n, err = job.purge(tx)
				return err
			})
			if err != nil {
				return p, err
			}
			*job.count += n
			if n < purgeBatch {
				break
			}
		}
	}
	return p, nil
}
