package store

import (
	"context"
	"sync"
)

// keyLocks lets one holder per key at a time work on this node; the others
// wait in the process, holding no database connection (Store.TxFor). Only
// keys in use have an entry, so the map never holds more than the callers
// in flight.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	held  chan struct{} // full while held
	users int           // holders and waiters; guarded by keyLocks.mu
}

// lock waits until key is free or ctx ends; on success the caller must call
// the returned unlock once.
func (k *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyLock)
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{held: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.held <- struct{}{}:
		return func() { <-l.held; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// inUse counts the keys with a holder or a waiter.
func (k *keyLocks) inUse() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.locks)
}
