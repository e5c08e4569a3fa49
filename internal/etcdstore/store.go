package etcdstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"resilience.ops/internal/field"
	"resilience.ops/internal/state"
)

// Defaults and limits of a Config.
const (
	// DefaultPrefix is the key prefix when none is given. Teams that share a cluster give each
	// its own prefix (and, with authentication, a role limited to it).
	DefaultPrefix = "/resilience.ops/"
	// DefaultTimeout bounds every operation of the store, retries across members and
	// conflicting writes included: nothing waits longer for etcd.
	DefaultTimeout = 5 * time.Second
	// MinTimeout and MaxTimeout bound Config.Timeout.
	MinTimeout = 100 * time.Millisecond
	MaxTimeout = 5 * time.Minute
	// DefaultSlotTTL is the lease of a bulkhead or trial slot: a holder renews it every third
	// of it while it runs, and the slot of a holder that died is free at most this long after
	// its last renewal.
	DefaultSlotTTL = 10 * time.Second
	// MinTTL is the shortest lease etcd grants with its default election timeout (1 s): it
	// raises shorter ones to about 1.5 s.
	MinTTL = 2 * time.Second
)

// Config says how to reach etcd. Password is a secret: it is never part of an error.
type Config struct {
	// Endpoints are the client URLs of the members (http://10.0.0.1:2379) or host:port (https
	// when a TLS file is given). Members are tried in turn until one answers.
	Endpoints []string
	// Prefix namespaces every key; "" means DefaultPrefix. A trailing "/" is added when missing.
	Prefix string
	// Username and Password authenticate when etcd has authentication enabled.
	Username, Password string
	// CAFile verifies the members' certificates (system roots when empty); CertFile and KeyFile
	// are the client certificate, for members that require one.
	CAFile, CertFile, KeyFile string
	// Timeout bounds each operation; 0 means DefaultTimeout.
	Timeout time.Duration
	// SlotTTL is the lease of a held slot; 0 means DefaultSlotTTL.
	SlotTTL time.Duration
}

// Store keeps state in etcd v3 through its JSON gateway. It implements state.Store,
// state.Expiring and state.SlotProvider. Keys are laid out under the prefix as:
//
//	<prefix>state/<key>          a document (Load, Update, UpdateWithTTL)
//	<prefix>log/<key>/<suffix>   one line of an append-only log (Append); Load(<key>) returns
//	                             the lines in the order etcd created them
//	<prefix>slots/<name>/<i>     slot i of a slot set, held under the holder's lease
//
// A leading "/" of a key is dropped, so the guard /run/threader.qos.guard is
// /resilience.ops/state/run/threader.qos.guard. A Store is safe for concurrent use by
// goroutines and processes.
type Store struct {
	c       *client
	prefix  string
	timeout time.Duration
	slotTTL time.Duration
}

var (
	_ state.Store        = (*Store)(nil)
	_ state.Expiring     = (*Store)(nil)
	_ state.SlotProvider = (*Store)(nil)
)

// New checks cfg and returns a store. It does not connect: the first operation does. A setting
// it refuses is a *field.Error named by its module parameter (etcd_endpoints, etcd_timeout, ...).
func New(cfg Config) (*Store, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < MinTimeout || cfg.Timeout > MaxTimeout {
		return nil, &field.Error{Path: "etcd_timeout", Problem: fmt.Sprintf("must be between %s and %s, got %s", MinTimeout, MaxTimeout, cfg.Timeout), Form: field.Sentence}
	}
	if cfg.SlotTTL == 0 {
		cfg.SlotTTL = DefaultSlotTTL
	}
	if cfg.SlotTTL < MinTTL {
		return nil, &field.Error{Path: "slot_ttl", Problem: fmt.Sprintf("the slot lease must be at least %s, got %s", MinTTL, cfg.SlotTTL), Form: field.Plain}
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Store{c: c, prefix: prefix, timeout: cfg.Timeout, slotTTL: cfg.SlotTTL}, nil
}

// Prefix is the key prefix in use, with its trailing "/".
func (s *Store) Prefix() string { return s.prefix }

// Endpoints are the members' base URLs.
func (s *Store) Endpoints() []string { return append([]string(nil), s.c.endpoints...) }

func (s *Store) op() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

func (s *Store) docKey(key string) []byte {
	return []byte(s.prefix + "state/" + strings.TrimPrefix(key, "/"))
}

func (s *Store) logDir(key string) []byte {
	return []byte(s.prefix + "log/" + strings.TrimPrefix(key, "/") + "/")
}

// prefixEnd is the range end that covers every key starting with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0} // p is all 0xff: to the end of the key space
}

func (s *Store) wrap(what, key string, err error) error {
	return fmt.Errorf("%s %s in etcd: %w", what, key, err)
}

// Load returns the document key, or else the lines appended to key (each ending in a newline),
// or nil when neither exists. One linearizable read.
func (s *Store) Load(key string) ([]byte, error) {
	ctx, cancel := s.op()
	defer cancel()
	dir := s.logDir(key)
	resp, _, err := s.c.txn(ctx, txnRequest{Success: []requestOp{
		{Range: &rangeRequest{Key: s.docKey(key)}},
		{Range: &rangeRequest{Key: dir, RangeEnd: prefixEnd(dir), SortOrder: "ASCEND", SortTarget: "CREATE"}},
	}})
	if err != nil {
		return nil, s.wrap("read", key, err)
	}
	if len(resp.Responses) != 2 || resp.Responses[0].Range == nil || resp.Responses[1].Range == nil {
		return nil, fmt.Errorf("read %s in etcd: unexpected answer", key)
	}
	if kvs := resp.Responses[0].Range.Kvs; len(kvs) > 0 {
		return nonNil(kvs[0].Value), nil
	}
	lines := resp.Responses[1].Range.Kvs
	if len(lines) == 0 {
		return nil, nil
	}
	var b bytes.Buffer
	for _, kv := range lines {
		b.Write(kv.Value)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Update implements state.Store: UpdateWithTTL without expiry.
func (s *Store) Update(key string, fn func(cur []byte) ([]byte, error)) error {
	return s.UpdateWithTTL(key, func(cur []byte) ([]byte, time.Duration, error) {
		next, err := fn(cur)
		return next, 0, err
	})
}

// UpdateWithTTL implements state.Expiring with a compare-and-swap: read the document and its
// mod_revision, call fn, and write in a transaction that applies only if the mod_revision is
// still the one read (0 for a key that does not exist). When another writer came first, the
// transaction answers with the current document and fn is called again on it, until the write
// applies or the store's timeout passes. A ttl > 0 attaches the document to a new lease of that
// many seconds (rounded up), so etcd deletes it once the lease runs out; the lease the document
// had before is revoked. A ttl of 0 writes the document without expiry.
//
// When an answer was lost (a member died with the transaction in flight), the next read tells
// whether it applied: the document then holds exactly what was written (or, for a delete, is
// gone), and the update counts as done.
func (s *Store) UpdateWithTTL(key string, fn func(cur []byte) ([]byte, time.Duration, error)) error {
	ctx, cancel := s.op()
	defer cancel()
	k := s.docKey(key)
	rr, err := s.c.rangeKeys(ctx, rangeRequest{Key: k})
	if err != nil {
		return s.wrap("read", key, err)
	}
	var cur *keyValue
	if len(rr.Kvs) > 0 {
		cur = &rr.Kvs[0]
	}
	var (
		ambiguous bool
		wrote     []byte // the last document written; nil for a delete
		wroteAny  bool
	)
	for {
		if ambiguous && wroteAny && applied(cur, wrote) {
			return nil
		}
		var curVal []byte
		var modRev int64
		var oldLease int64
		if cur != nil {
			curVal, modRev, oldLease = nonNil(cur.Value), int64(cur.ModRevision), int64(cur.Lease)
		}
		next, ttl, err := fn(curVal)
		if errors.Is(err, state.ErrUnchanged) {
			return nil
		}
		if err != nil {
			return err
		}
		if next == nil && cur == nil || next != nil && cur != nil && bytes.Equal(curVal, next) && ttl == 0 && oldLease == 0 {
			return nil // nothing to write
		}
		var lease int64
		if next != nil && ttl > 0 {
			if lease, err = s.c.grant(ctx, ttl); err != nil {
				return s.wrap("write", key, err)
			}
		}
		resp, amb, err := s.c.txn(ctx, casRequest(k, modRev, next, lease))
		ambiguous = ambiguous || amb
		wrote, wroteAny = next, true
		if err != nil {
			s.revokeQuietly(lease)
			if errors.Is(err, state.ErrUnavailable) && ambiguous {
				err = fmt.Errorf("%w (whether the last write applied is unknown)", err)
			}
			return s.wrap("write", key, err)
		}
		if resp.Succeeded {
			if oldLease != 0 && oldLease != lease {
				s.revokeQuietly(oldLease) // attached to nothing any more
			}
			return nil
		}
		if !ambiguous {
			s.revokeQuietly(lease) // not used: another writer came first
		}
		cur = currentOf(resp)
	}
}

// applied reports whether cur, the document read after an answer was lost, shows that the last
// write applied: it holds exactly what was written, or it is gone after a delete (wrote nil).
func applied(cur *keyValue, wrote []byte) bool {
	return wrote == nil && cur == nil || wrote != nil && cur != nil && bytes.Equal(cur.Value, wrote)
}

// casRequest writes next (a delete when nil) to key k under lease (0: none) if the key's
// mod_revision is still modRev (0: the key does not exist), and else reads the key.
func casRequest(k []byte, modRev int64, next []byte, lease int64) txnRequest {
	op := requestOp{Delete: &deleteRequest{Key: k}}
	if next != nil {
		op = requestOp{Put: &putRequest{Key: k, Value: next, Lease: i64(lease)}}
	}
	return txnRequest{
		Compare: []compare{{Key: k, Target: "MOD", Result: "EQUAL", ModRevision: rev(modRev)}},
		Success: []requestOp{op},
		Failure: []requestOp{{Range: &rangeRequest{Key: k}}},
	}
}

// currentOf is the document a failed compare-and-swap read instead; nil when the key is gone.
func currentOf(resp *txnResponse) *keyValue {
	if len(resp.Responses) == 1 && resp.Responses[0].Range != nil && len(resp.Responses[0].Range.Kvs) > 0 {
		return &resp.Responses[0].Range.Kvs[0]
	}
	return nil
}

// revokeQuietly revokes a lease that is attached to nothing, within a short timeout of its own;
// an unused lease expires by itself anyway.
func (s *Store) revokeQuietly(id int64) {
	if id == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(s.timeout, time.Second))
	defer cancel()
	_ = s.c.revoke(ctx, id)
}

// Append implements state.Store: the line becomes a key of its own under <prefix>log/<key>/,
// created in a transaction that applies only if the key is new, so a retry after a lost answer
// never writes the line twice. Lines are read back in the order etcd created them (their
// create_revision), which is the order of the appends.
func (s *Store) Append(key string, line []byte) error {
	ctx, cancel := s.op()
	defer cancel()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	k := append(s.logDir(key), fmt.Sprintf("%020d-%s", time.Now().UnixNano(), hex.EncodeToString(rnd[:]))...)
	resp, amb, err := s.c.txn(ctx, txnRequest{
		Compare: []compare{{Key: k, Target: "CREATE", Result: "EQUAL", CreateRevision: rev(0)}},
		Success: []requestOp{{Put: &putRequest{Key: k, Value: bytes.TrimRight(line, "\n")}}},
	})
	if err != nil {
		return s.wrap("append to", key, err)
	}
	if !resp.Succeeded && !amb {
		return fmt.Errorf("append to %s in etcd: the line's key %s exists already", key, k)
	}
	return nil
}
