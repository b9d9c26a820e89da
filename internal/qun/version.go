package qun

import (
	"context"
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
