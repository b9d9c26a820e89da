package qun

import (
	"context"
	"errors"
	"strconv"
)

// metaDirectory is the store-wide setting that counts directory changes.
const metaDirectory = "directory_version"

// updateDirectory runs fn, a change of the directory (tenants, apps,
// users, aliases, friendships, links), and counts the change in the same
// transaction. What is cached from the directory (the actor of a token)
// is valid while the count it was read at is the store's: one small read
// per request instead of the rows, and correct across nodes, since the
// count is in the store.
func (s *Service) updateDirectory(ctx context.Context, fn func(Tx) error) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		v, err := directoryVersion(tx)
		if err != nil {
			return err
		}
		return tx.SetMeta(metaDirectory, strconv.FormatInt(v+1, 10))
	})
}

// ErrMoved is how a store fails a transaction held to a setting that
// moved (Tx.ExpectMeta).
var ErrMoved = errors.New("qun: a setting the transaction was held to has moved")

// pin is the directory count a request read (Sync), when it read one: an
// update may work at it, with the store holding the transaction to it
// (Tx.ExpectMeta), instead of reading the count again inside.
type pin struct {
	raw string
	v   int64
	ok  bool
}

// pinOf is the count ctx carries (Sync).
func pinOf(ctx context.Context) pin {
	raw, ok := ctx.Value(versionKey{}).(string)
	if !ok {
		return pin{}
	}
	v, err := parseVersion(raw)
	return pin{raw: raw, v: v, ok: err == nil}
}

// at is the directory count tx works at: the pinned one, which the store
// is asked to hold tx to, or else the one tx reads.
func (p pin) at(tx Tx) (int64, error) {
	if p.ok {
		return p.v, tx.ExpectMeta(metaDirectory, p.raw)
	}
	return directoryVersion(tx)
}

// pinnedTx is a transaction of updatePinned: its resolvers work at the
// request's pin.
type pinnedTx struct {
	Tx
	pin pin
}

// pinned is the pin tx works at: none unless updatePinned began it.
func pinned(tx Tx) pin {
	if p, ok := tx.(pinnedTx); ok {
		return p.pin
	}
	return pin{}
}

// updatePinned runs fn in an update whose resolvers work at the directory
// count the request read (Sync), so that most updates need not read it
// again in their transaction. When the directory moved in between, the
// store fails the update with ErrMoved and fn runs again in a plain
// update, which reads the count itself. So nothing is written from what
// was true at an older count. An update that fails before its store has
// compared (the rules refused the request from cached users) answers as
// of the count its request read, a state the store was in during the
// request.
func (s *Service) updatePinned(ctx context.Context, fn func(Tx) error) error {
	p := pinOf(ctx)
	if !p.ok {
		return s.store.Update(ctx, fn)
	}
	err := s.store.Update(ctx, func(tx Tx) error { return fn(pinnedTx{Tx: tx, pin: p}) })
	if errors.Is(err, ErrMoved) {
		err = s.store.Update(ctx, fn)
	}
	return err
}

// directoryVersion reads the count of directory changes.
func directoryVersion(tx Tx) (int64, error) {
	v, err := tx.Meta(metaDirectory)
	if err != nil {
		return 0, err
	}
	return parseVersion(v)
}

// parseVersion reads a stored count of directory changes ("" is 0).
func parseVersion(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// KeptSecret returns the store-wide secret kept under name, keeping fresh
// as it when there is none yet: of nodes starting together, all get the
// first one kept.
func (s *Service) KeptSecret(ctx context.Context, name, fresh string) (string, error) {
	var kept string
	err := s.store.Update(ctx, func(tx Tx) error {
		v, err := tx.Meta("secret:" + name)
		if err != nil {
			return err
		}
		if v != "" {
			kept = v
			return nil
		}
		kept = fresh
		return tx.SetMeta("secret:"+name, fresh)
	})
	return kept, err
}
