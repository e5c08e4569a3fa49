package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"resilience.ops/internal/state"
)

// Slots implements state.SlotProvider: slot i of name is the key <prefix>slots/<name>/<i>. A
// slot is taken by creating its key, in a transaction that applies only if the key does not
// exist (create_revision == 0), under a lease of the store's slot TTL that the holder keeps
// alive while it holds the slot. Releasing revokes the lease, which deletes the key; a holder
// that dies stops renewing, and etcd deletes the key when the lease runs out.
func (s *Store) Slots(name string, n int) state.SlotSet {
	return &slotSet{s: s, name: name, dir: []byte(s.prefix + "slots/" + strings.TrimPrefix(name, "/") + "/"), n: n}
}

// slotSet is used by one goroutine (state.SlotSet).
type slotSet struct {
	s     *Store
	name  string
	dir   []byte
	n     int
	lease int64 // granted for the next slot taken; 0 when none is held in reserve
}

// holder is what a slot key holds: who took it, for an operator who looks.
type holder struct {
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	Since string `json:"since"`
}

func (t *slotSet) key(i int) []byte { return append(append([]byte(nil), t.dir...), strconv.Itoa(i)...) }

// taken reads which of the n slots are held, in one range over the set's keys.
func (t *slotSet) taken(ctx context.Context) (map[int]bool, error) {
	rr, err := t.s.c.rangeKeys(ctx, rangeRequest{Key: t.dir, RangeEnd: prefixEnd(t.dir), KeysOnly: true})
	if err != nil {
		return nil, err
	}
	held := map[int]bool{}
	for _, kv := range rr.Kvs {
		if i, err := strconv.Atoi(strings.TrimPrefix(string(kv.Key), string(t.dir))); err == nil && i >= 0 && i < t.n {
			held[i] = true
		}
	}
	return held, nil
}

// Try implements state.SlotSet: one read of the taken slots, then a create of a free one from
// first on; a slot taken meanwhile by another process is skipped.
func (t *slotSet) Try(first int) (int, io.Closer, error) {
	ctx, cancel := t.s.op()
	defer cancel()
	held, err := t.taken(ctx)
	if err != nil {
		return -1, nil, fmt.Errorf("slots %s in etcd: %w", t.name, err)
	}
	if len(held) >= t.n {
		return -1, nil, nil
	}
	host, _ := os.Hostname()
	value, _ := json.Marshal(holder{Host: host, PID: os.Getpid(), Since: time.Now().UTC().Format(time.RFC3339Nano)})
	for k := range t.n {
		i := (first + k) % t.n
		if held[i] {
			continue
		}
		key := t.key(i)
		var resp *txnResponse
		var amb bool
		for range 2 {
			if t.lease == 0 {
				if t.lease, err = t.s.c.grant(ctx, t.s.slotTTL); err != nil {
					return -1, nil, fmt.Errorf("slots %s in etcd: %w", t.name, err)
				}
			}
			resp, amb, err = t.s.c.txn(ctx, txnRequest{
				Compare: []compare{{Key: key, Target: "CREATE", Result: "EQUAL", CreateRevision: rev(0)}},
				Success: []requestOp{{Put: &putRequest{Key: key, Value: value, Lease: i64(t.lease)}}},
				Failure: []requestOp{{Range: &rangeRequest{Key: key}}},
			})
			var ee *Error
			if !errors.As(err, &ee) || ee.Code != codeNotFound {
				break
			}
			// The lease kept in reserve ran out while this taker waited longer than the slot
			// TTL: take a new one.
			t.lease = 0
		}
		if err != nil {
			return -1, nil, fmt.Errorf("slots %s in etcd: %w", t.name, err)
		}
		mine := resp.Succeeded
		if !mine && amb && len(resp.Responses) == 1 && resp.Responses[0].Range != nil {
			// The answer of an applied create was lost: the key is ours if it has our lease.
			kvs := resp.Responses[0].Range.Kvs
			mine = len(kvs) == 1 && int64(kvs[0].Lease) == t.lease
		}
		if !mine {
			continue
		}
		h := newHeldSlot(t.s, t.lease)
		t.lease = 0
		return i, h, nil
	}
	return -1, nil, nil
}

// Free implements state.SlotSet.
func (t *slotSet) Free() (int, error) {
	ctx, cancel := t.s.op()
	defer cancel()
	held, err := t.taken(ctx)
	if err != nil {
		return 0, fmt.Errorf("slots %s in etcd: %w", t.name, err)
	}
	return t.n - len(held), nil
}

// Close revokes the lease held in reserve, if any.
func (t *slotSet) Close() {
	t.s.revokeQuietly(t.lease)
	t.lease = 0
}

// heldSlot keeps a slot's lease alive until Close, which revokes it.
type heldSlot struct {
	s     *Store
	lease int64
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu   sync.Mutex
	lost error // set when the lease could not be renewed in time
}

func newHeldSlot(s *Store, lease int64) *heldSlot {
	h := &heldSlot{s: s, lease: lease, stop: make(chan struct{}), done: make(chan struct{})}
	go h.keepAlive()
	return h
}

// keepAlive renews the lease every third of its TTL. When etcd cannot be reached for longer
// than the TTL the lease runs out and another process may take the slot: that is recorded in
// Lost.
func (h *heldSlot) keepAlive() {
	defer close(h.done)
	every := h.s.slotTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := h.s.c.keepAlive(ctx, h.lease)
		cancel()
		if errors.Is(err, errLeaseLost) {
			h.mu.Lock()
			h.lost = fmt.Errorf("slot lease %x: %w", h.lease, err)
			h.mu.Unlock()
			return
		}
	}
}

// Lost is non-nil when the slot's lease ran out while it was held.
func (h *heldSlot) Lost() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}

// Close stops the renewals and revokes the lease, which frees the slot. It may be called more
// than once.
func (h *heldSlot) Close() error {
	var err error
	h.once.Do(func() {
		close(h.stop)
		<-h.done
		ctx, cancel := h.s.op()
		defer cancel()
		err = h.s.c.revoke(ctx, h.lease)
	})
	return err
}
