package resilience

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/state"
)

// Guardrails applies the circuit breaker, bulkhead, retry budget and adaptive retry of one set
// of Settings to operations, keyed by a circuit key. Build it with [New]; a caller runs each
// attempt of an operation as:
//
//	adm, err := g.Before(ctx, key)       // breaker state, bulkhead slot (waits up to max_wait)
//	if err != nil { ... }                // an invalid key, or ctx done while waiting
//	defer adm.Release()
//	if err := adm.Err(); err != nil { ... } // circuit_open or bulkhead_full: do not run the attempt
//	... run the attempt ...
//	g.AfterAttempt(adm, errorType, policy.ShouldRetry(errorType))
//	if failed && retrying: if d, _ := g.AllowRetry(key); !d.Allowed { ... retry_budget_exhausted ... }
//
// and before the first attempt, policy, why, _ = g.Adapt(key, policy).
//
// The state lives in files, so it holds across the processes Ansible starts and survives between
// runs; a process that dies never leaks a slot. A state file that cannot be read or decoded is
// reported as a warning and the call is let through (fail-open): the guardrails never make an
// operation fail because of their own state. In check mode nothing is written, no slot is taken
// and no file is created.
//
// A Guardrails is safe for concurrent use by goroutines and processes.
type Guardrails struct {
	s     Settings
	dir   string
	store state.Store
	slots state.SlotProvider
	clock clock.Clock
	rnd   func() float64
	check bool
}

// Option configures a Guardrails. New applies options once, in order.
type Option func(*Guardrails)

// WithClock replaces the real clock (time.Now and a timer), so that tests never sleep. The
// clock is used for every timestamp and for the bulkhead's waits.
func WithClock(c clock.Clock) Option { return func(g *Guardrails) { g.clock = clock.Or(c) } }

// WithRandom sets the random source (uniform in [0, 1)) of the bulkhead's first slot and poll
// jitter; the default is math/rand/v2.Float64. It may be called from concurrent calls.
func WithRandom(rnd func() float64) Option { return func(g *Guardrails) { g.rnd = rnd } }

// WithStore replaces the store of the state documents. The default is state.FileStore's locking
// and atomic replacement without fsync (see localStore); state.FileStore{} makes every update
// durable at the price of two fsyncs; an etcdstore.Store shares them with a fleet of hosts (its
// keys are the documents' paths under its prefix, so hosts share a key when they use the same
// state_dir, or the same WithDir). The store's Update may call its function more than once (etcd retries a
// conflicting write): the guardrails' functions have no side effects beyond their results. The
// slots are given by WithSlots.
func WithStore(s state.Store) Option { return func(g *Guardrails) { g.store = s } }

// WithSlots replaces the provider of the bulkhead and half-open trial slots. The default is local
// lock files in the state directory, held by flock: they bound the processes of one host. An
// etcdstore.Store bounds a fleet: a slot is a key held under a lease that its process keeps
// alive, freed when the process releases it or, if it dies, when the lease runs out.
func WithSlots(p state.SlotProvider) Option { return func(g *Guardrails) { g.slots = p } }

// WithDir replaces <Settings.Dir>/circuit as the folder that names the state documents and slots.
// With a store that a fleet shares, a folder that does not depend on a host's state_dir lets every
// host that uses a key share its state: retry_manager gives "/circuit" with etcd, so that a
// document is <etcd prefix>state/circuit/<name>.json. The local slots are lock files in it.
func WithDir(dir string) Option { return func(g *Guardrails) { g.dir = dir } }

// WithCheckMode makes every method read-only: state is read, never written, and no slot is
// taken (see the methods).
func WithCheckMode(check bool) Option { return func(g *Guardrails) { g.check = check } }

// New returns the guardrails of s, or the error of [Settings.Validate]. An empty s.Dir means
// DefaultDir.
func New(s Settings, opts ...Option) (*Guardrails, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Dir == "" {
		s.Dir = DefaultDir
	}
	g := &Guardrails{s: s, dir: filepath.Join(s.Dir, Subdir), store: localStore{}, slots: localSlots{}, clock: clock.Real{}, rnd: rand.Float64}
	for _, opt := range opts {
		opt(g)
	}
	return g, nil
}

// Settings returns the settings g applies.
func (g *Guardrails) Settings() Settings { return g.s }

// Dir is the directory of the state files: <state_dir>/circuit.
func (g *Guardrails) Dir() string { return g.dir }

// StateFile is the path of key's state document. It does not validate key.
func (g *Guardrails) StateFile(key string) string { return newPaths(g.dir, key).doc }

// Admission is the answer of [Guardrails.Before] for one attempt: whether it may run, and the
// breaker state and bulkhead wait that applied. It holds the attempt's bulkhead slot (and
// half-open trial slot) until [Guardrails.AfterAttempt] or Release. Its exported fields marshal
// to the result's circuit_breaker and bulkhead. Release may be called from any goroutine;
// the rest is for one goroutine.
type Admission struct {
	Key string `json:"key"`
	// Admitted says the attempt may run. When false, ErrorType (circuit_open or bulkhead_full)
	// and Message say why; Err returns them as a *RejectedError.
	Admitted  bool            `json:"admitted"`
	ErrorType retry.ErrorType `json:"error_type,omitempty"`
	Message   string          `json:"message,omitempty"`
	// RetryIn is, for circuit_open, the time until the breaker lets the next trial call
	// through (0 while half-open trials are running).
	RetryIn  time.Duration  `json:"-"`
	Breaker  BreakerReport  `json:"circuit_breaker"`
	Bulkhead BulkheadReport `json:"bulkhead"`
	// Warnings report state that could not be read, written or was repaired.
	Warnings []string `json:"warnings,omitempty"`

	p        paths
	gen      uint64
	genKnown bool // false: the breaker's state was not read (fail-open)
	trial    bool

	mu        sync.Mutex
	slotFile  io.Closer // the bulkhead slot held
	trialFile io.Closer // the half-open trial slot held
}

// BulkheadReport is the bulkhead's part of a result. A plain value: safe for concurrent use.
type BulkheadReport struct {
	Enabled       bool    `json:"enabled"`
	MaxConcurrent int     `json:"max_concurrent,omitempty"`
	MaxWait       float64 `json:"max_wait,omitempty"` // seconds
	// Acquired says a slot was taken; Slot is its number.
	Acquired bool `json:"acquired"`
	Slot     *int `json:"slot,omitempty"`
	// Waited is the time spent waiting for a slot, in seconds.
	Waited float64 `json:"waited"`
	// Available is, in check mode, the number of slots free at the time of the check.
	Available *int `json:"available,omitempty"`
}

// RejectedError is the error of an attempt the guardrails did not let run: Type is
// circuit_open or bulkhead_full (or retry_budget_exhausted, for callers that build one from a
// BudgetDecision). Not modified after creation: safe for concurrent use.
type RejectedError struct {
	Type    retry.ErrorType
	Key     string
	Message string
	// RetryIn is the time until the next trial call, for circuit_open.
	RetryIn time.Duration
}

func (e *RejectedError) Error() string { return e.Message }

// Err is nil when the attempt was admitted, else a *RejectedError.
func (a *Admission) Err() error {
	if a.Admitted {
		return nil
	}
	return &RejectedError{Type: a.ErrorType, Key: a.Key, Message: a.Message, RetryIn: a.RetryIn}
}

// Release gives back the attempt's slots. AfterAttempt calls it; call it (deferred) when the
// attempt's result is not recorded. It may be called any number of times.
func (a *Admission) Release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range []*io.Closer{&a.slotFile, &a.trialFile} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
}

func (a *Admission) releaseSlot() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.slotFile != nil {
		a.slotFile.Close()
		a.slotFile = nil
	}
}

func (a *Admission) warn(format string, args ...any) {
	a.Warnings = addWarning(a.Warnings, fmt.Sprintf(format, args...))
}

func (a *Admission) reject(t retry.ErrorType, retryIn time.Duration, msg string) {
	a.Admitted, a.ErrorType, a.RetryIn, a.Message = false, t, retryIn, msg
}

func addWarning(ws []string, w ...string) []string {
	for _, s := range w {
		if !slices.Contains(ws, s) {
			ws = append(ws, s)
		}
	}
	return ws
}

// Before decides whether an attempt on key may run, and takes what it needs:
//
//   - Circuit breaker (when enabled): closed admits; open refuses with circuit_open and the
//     time until the next trial, without waiting; an open breaker whose open_duration has passed
//     turns half-open, and half-open admits the call as a trial when one of the
//     half_open_max_calls trial slots is free, else refuses it with circuit_open.
//   - Bulkhead (when enabled), after the breaker: takes one of max_concurrent slots, waiting
//     up to max_wait (polling, with the clock's Sleep) and then refusing with bulkhead_full.
//
// The error is non-nil only for an invalid key (see ValidateKey) or when ctx is done while
// waiting for a slot (ctx's error, with the Admission filled in and not admitted). State that
// cannot be read or written gives a warning and the call is let through.
//
// In check mode Before reads the breaker's state and reports what would apply (an open breaker
// still refuses; a due one reports half_open), takes no slot, and reports the free slots in
// Bulkhead.Available.
func (g *Guardrails) Before(ctx context.Context, key string) (*Admission, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	adm := &Admission{Key: key, Admitted: true, p: newPaths(g.dir, key)}
	adm.Breaker.Enabled = g.s.CircuitBreaker.Enabled
	if bh := g.s.Bulkhead; bh.Enabled {
		adm.Bulkhead = BulkheadReport{Enabled: true, MaxConcurrent: bh.MaxConcurrent, MaxWait: secs(bh.MaxWait)}
	}
	if g.s.CircuitBreaker.Enabled {
		g.admitBreaker(adm)
		if !adm.Admitted {
			adm.Release()
			return adm, nil
		}
	}
	if g.s.Bulkhead.Enabled {
		if err := g.acquireSlot(ctx, adm); err != nil {
			adm.Release()
			adm.Admitted = false
			return adm, err
		}
		if !adm.Admitted {
			adm.Release()
		}
	}
	return adm, nil
}

func (g *Guardrails) admitBreaker(adm *Admission) {
	s := g.s.CircuitBreaker
	data, err := g.store.Load(adm.p.doc)
	if err != nil {
		adm.warn("circuit breaker: %v; the call is let through as if the breaker were closed", err)
		adm.Breaker.State = Closed
		return
	}
	doc, problem := decode(adm.p.key, data)
	now := g.clock.Now()
	b := &doc.Breaker
	if problem == "" && (b.State == Closed || b.State == Open && !b.due(now)) {
		// Nothing changes: decided on what was read, without the lock.
		g.decideBreaker(adm, b, now, nil, nil)
		return
	}
	if g.check {
		if problem != "" {
			adm.warn("%s", corruptWarning(adm.p.doc, problem, false))
		}
		ts := b.advance(s, now)
		g.decideBreaker(adm, b, now, ts, func() (bool, error) {
			set := g.slots.Slots(adm.p.trials(), s.HalfOpenMaxCalls)
			defer set.Close()
			free, err := set.Free()
			return free > 0, err
		})
		return
	}
	// A transition is due, a trial slot is needed or the file must be replaced: under the lock.
	// The store may call the function again (a conflicting write on etcd): a trial slot taken by
	// an earlier call is kept for the next, and given back when the decision no longer needs it.
	warns, err := g.update(adm.p, func(doc *Document, now time.Time) bool {
		adm.Admitted, adm.ErrorType, adm.Message, adm.RetryIn = true, "", "", 0
		adm.trial, adm.Warnings = false, nil
		b := &doc.Breaker
		ts := b.advance(s, now)
		g.decideBreaker(adm, b, now, ts, func() (bool, error) {
			if adm.trialFile != nil {
				return true, nil
			}
			set := g.slots.Slots(adm.p.trials(), s.HalfOpenMaxCalls)
			defer set.Close()
			_, f, err := set.Try(0)
			adm.trialFile = f
			return f != nil, err
		})
		return len(ts) > 0
	})
	if !adm.trial && adm.trialFile != nil {
		adm.trialFile.Close()
		adm.trialFile = nil
	}
	adm.Warnings = addWarning(adm.Warnings, warns...)
	if err != nil {
		adm.warn("circuit breaker: %v; the call is let through", err)
		adm.Admitted, adm.ErrorType, adm.Message, adm.RetryIn = true, "", "", 0
		adm.genKnown = false // what fn decided was not stored: the result counts for the stored state
	}
}

// decideBreaker admits or refuses adm on breaker b at now; ts are the transitions just made.
// takeTrial takes (or, in check mode, looks for) a half-open trial slot.
func (g *Guardrails) decideBreaker(adm *Admission, b *Breaker, now time.Time, ts []Transition, takeTrial func() (bool, error)) {
	s := g.s.CircuitBreaker
	adm.Breaker = b.report(s, now)
	adm.Breaker.Transitions = ts
	adm.gen, adm.genKnown = b.Generation, true
	switch b.State {
	case Open:
		why := ""
		if n := len(b.Transitions); n > 0 {
			why = " (" + b.Transitions[n-1].Reason + ")"
		}
		wait := max(b.OpenUntil.Sub(now), 0)
		adm.reject(retry.CircuitOpen, wait, fmt.Sprintf(
			"circuit breaker %q is open%s: the call was not made; the next trial call is allowed in %s, at %s",
			adm.Key, why, seconds(wait.Round(time.Millisecond)), b.OpenUntil.UTC().Format(time.RFC3339)))
	case HalfOpen:
		ok, err := takeTrial()
		if err != nil {
			adm.warn("circuit breaker: trial slot: %v; the call is let through as a trial", err)
			ok = true
		}
		if ok {
			adm.trial, adm.Breaker.Trial = true, true
			return
		}
		adm.reject(retry.CircuitOpen, 0, fmt.Sprintf(
			"circuit breaker %q is half-open and its %d trial call(s) (half_open_max_calls) are running: the call was not made; try again when a trial has finished",
			adm.Key, s.HalfOpenMaxCalls))
	}
}

func (g *Guardrails) acquireSlot(ctx context.Context, adm *Admission) error {
	s := g.s.Bulkhead
	if g.check {
		set := g.slots.Slots(adm.p.slots(), s.MaxConcurrent)
		free, err := set.Free()
		set.Close()
		if err != nil {
			adm.warn("bulkhead: %v", err)
		}
		adm.Bulkhead.Available = &free
		return nil
	}
	if _, local := g.slots.(localSlots); local {
		if err := state.EnsureDir(g.dir); err != nil {
			adm.warn("bulkhead: %v; the call is let through without a slot", err)
			return nil
		}
	}
	set := g.slots.Slots(adm.p.slots(), s.MaxConcurrent)
	defer set.Close()
	first := min(int(g.rnd()*float64(s.MaxConcurrent)), s.MaxConcurrent-1)
	start := g.clock.Now()
	for {
		i, f, err := set.Try(max(first, 0))
		waited := g.clock.Now().Sub(start)
		adm.Bulkhead.Waited = secs(waited)
		switch {
		case err != nil:
			adm.warn("bulkhead: %v; the call is let through without a slot", err)
			return nil
		case f != nil:
			adm.mu.Lock()
			adm.slotFile = f
			adm.mu.Unlock()
			adm.Bulkhead.Acquired, adm.Bulkhead.Slot = true, &i
			return nil
		case waited >= s.MaxWait:
			adm.reject(retry.BulkheadFull, 0, fmt.Sprintf(
				"bulkhead %q is full: all %d slots (max_concurrent) stayed taken for %s (max_wait %s): the call was not made",
				adm.Key, s.MaxConcurrent, seconds(waited.Round(time.Millisecond)), seconds(s.MaxWait)))
			return nil
		}
		d := min(time.Duration(float64(BulkheadPollInterval)*(0.5+g.rnd())), s.MaxWait-waited)
		if err := g.clock.Sleep(ctx, d); err != nil {
			adm.Bulkhead.Waited = secs(g.clock.Now().Sub(start))
			return err
		}
	}
}

// AttemptReport is what [Guardrails.AfterAttempt] recorded. A plain value: safe for concurrent use.
type AttemptReport struct {
	// Recorded says the state was updated (false when nothing was enabled that records, in
	// check mode, for a reserved type, for an attempt that was not admitted, or on an error).
	Recorded bool `json:"recorded"`
	// Counted is how the breaker and the adaptive history counted the result: success,
	// failure, ignored (a failure of a type the policy does not retry) or none (no call).
	Counted string `json:"counted"`
	// Breaker is the breaker after the result, with the transitions it made.
	Breaker  BreakerReport `json:"circuit_breaker"`
	Warnings []string      `json:"warnings,omitempty"`
}

// AfterAttempt records the result of the attempt admitted by adm, then releases its slots (the
// bulkhead slot first, the trial slot once the result is recorded). typ is the attempt's error
// type, "" for a success; retryable says whether the policy retries typ (Policy.ShouldRetry):
// only such failures count against the breaker and the history, since a wrong password does not
// mean the server is down. Reserved types record nothing.
//
// It counts the attempt as a call of the retry budget, adds it to the adaptive history, and
// moves the breaker: while closed, a success resets the consecutive failures and a counted
// failure opens it when it makes failure_threshold in a row or when the window's failure rate
// reaches failure_rate_threshold over at least minimum_calls calls; while half-open, a trial's
// success closes it and its failure re-opens it. The result of a call admitted before a
// transition moves the breaker no more (a burst of failures opens it once). In check
// mode it records nothing. Errors become warnings.
func (g *Guardrails) AfterAttempt(adm *Admission, typ retry.ErrorType, retryable bool) AttemptReport {
	if adm == nil {
		return AttemptReport{Counted: countNone.String()}
	}
	defer adm.Release()
	adm.releaseSlot()
	if !adm.Admitted {
		return AttemptReport{Counted: countNone.String()}
	}
	return g.record(adm.p, typ, retryable, adm.gen, !adm.genKnown, adm.trial)
}

// Record records the result of an attempt that ran in another process (the retry_manager role
// runs attempts as separate tasks): as AfterAttempt, except that the admission is unknown, so
// the result counts for the breaker's current state, as a trial when it is half-open. The error
// is non-nil only for an invalid key.
func (g *Guardrails) Record(key string, typ retry.ErrorType, retryable bool) (AttemptReport, error) {
	if err := ValidateKey(key); err != nil {
		return AttemptReport{}, err
	}
	return g.record(newPaths(g.dir, key), typ, retryable, 0, true, false), nil
}

func (g *Guardrails) record(p paths, typ retry.ErrorType, retryable bool, gen uint64, anyGen, trial bool) AttemptReport {
	o := outcomeOf(typ, retryable)
	r := AttemptReport{Counted: o.String()}
	cb, rb, ad := g.s.CircuitBreaker, g.s.RetryBudget, g.s.Adaptive
	if o == countNone || g.check || !cb.Enabled && !rb.Enabled && !ad.Enabled {
		return r
	}
	warns, err := g.update(p, func(doc *Document, now time.Time) bool {
		changed := false
		if rb.Enabled {
			doc.Budget = doc.Budget.add(now, rb.Window, Bucket{Calls: 1})
			changed = true
		}
		if ad.Enabled && (o == countSuccess || o == countFailure) {
			delta := Bucket{Successes: 1}
			if o == countFailure {
				delta = Bucket{Failures: 1}
			}
			doc.History = doc.History.add(now, ad.Window, delta)
			changed = true
		}
		if cb.Enabled {
			before := doc.Breaker.Generation
			ts := doc.Breaker.record(cb, now, o, typ, gen, anyGen, trial)
			r.Breaker = doc.Breaker.report(cb, now)
			r.Breaker.Transitions = ts
			changed = changed || doc.Breaker.Generation != before || o != countIgnored
		}
		return changed
	})
	r.Warnings = warns
	if err != nil {
		r.Warnings = addWarning(r.Warnings, fmt.Sprintf("could not record the attempt: %v", err))
		return r
	}
	r.Recorded = true
	return r
}

// AllowRetry asks the retry budget of key for one retry, and counts it when allowed (or counts
// the refusal), so that concurrent processes never spend one budget twice. A retry is allowed
// while the window's retries are fewer than max(min_retries, ratio * calls), calls being the
// attempts recorded by AfterAttempt. When it is refused, return the failure without retrying and
// report it as retry_budget_exhausted. Disabled: always allowed. In check mode the decision is
// made on the state as read and nothing is counted. State that cannot be read or written allows
// the retry, with a warning. The error is non-nil only for an invalid key.
func (g *Guardrails) AllowRetry(key string) (BudgetDecision, error) {
	if err := ValidateKey(key); err != nil {
		return BudgetDecision{}, err
	}
	s := g.s.RetryBudget
	if !s.Enabled {
		return BudgetDecision{Allowed: true}, nil
	}
	p := newPaths(g.dir, key)
	if g.check {
		doc, warns := g.load(p)
		d := s.decide(doc.Budget, g.clock.Now())
		d.Warnings = warns
		return d, nil
	}
	var d BudgetDecision
	warns, err := g.update(p, func(doc *Document, now time.Time) bool {
		d = s.decide(doc.Budget, now)
		delta := Bucket{Retries: 1}
		if !d.Allowed {
			delta = Bucket{Denied: 1}
		}
		doc.Budget = doc.Budget.add(now, s.Window, delta)
		return true
	})
	if err != nil {
		d = BudgetDecision{Enabled: true, Allowed: true, Window: secs(s.Window), Reason: "retry allowed: the budget could not be checked"}
		warns = addWarning(warns, fmt.Sprintf("retry budget: %v; the retry is allowed", err))
	}
	d.Warnings = warns
	return d, nil
}

// Adapt returns p adapted to key's recent success rate, and what was adapted and why. Disabled,
// with fewer than minimum_calls counted calls in the window, or at or above
// target_success_rate, p is returned unchanged. Below the target, with shortfall
// s = (target - rate) / target (0 at the target, 1 at a success rate of 0):
//
//   - base_delay and max_delay are multiplied by 1 + s*(max_delay_factor-1): at most
//     max_delay_factor times the configured values, never less than them;
//   - max_attempts is lowered by round(s*(max_attempts - min_attempts)): never below
//     min(min_attempts, max_attempts), never above the configured value;
//   - nothing else changes (max_total_time stays a hard deadline).
//
// As the service recovers and the failures leave the window, the policy returns to the
// configured one. The history is what AfterAttempt recorded for key, from every process. Adapt
// only reads. p must be valid; the result then is. The error is non-nil only for an invalid key.
func (g *Guardrails) Adapt(key string, p retry.Policy) (retry.Policy, Adaptation, error) {
	if err := ValidateKey(key); err != nil {
		return p, Adaptation{}, err
	}
	s := g.s.Adaptive
	if !s.Enabled {
		return p, Adaptation{DelayFactor: 1}, nil
	}
	doc, warns := g.load(newPaths(g.dir, key))
	q, a := s.adapt(doc.History, g.clock.Now(), p)
	a.Warnings = warns
	if err := q.Validate(); err != nil && p.Validate() == nil {
		// Not expected: the bounds keep a valid policy valid. Keep the configured one.
		a.Adapted, a.Changes, a.DelayFactor = false, nil, 1
		a.Warnings = addWarning(a.Warnings, fmt.Sprintf("adaptive retry: the adapted policy is not valid (%v); the configured policy applies", err))
		return p, a, nil
	}
	return q, a, nil
}

// Snapshot is the state of one key as read, for status reports and tests.
type Snapshot struct {
	Key  string `json:"key"`
	File string `json:"file"`
	// Document is the stored document (a fresh one when absent or unusable).
	Document Document `json:"document"`
	// Breaker is the breaker as the next call would find it (an open breaker past open_until
	// shows as half_open).
	Breaker BreakerReport `json:"circuit_breaker"`
	// Budget is what AllowRetry would answer now, without counting.
	Budget   BudgetDecision `json:"retry_budget"`
	Warnings []string       `json:"warnings,omitempty"`
}

// Inspect reads key's state without changing anything. The error is non-nil only for an
// invalid key.
func (g *Guardrails) Inspect(key string) (Snapshot, error) {
	if err := ValidateKey(key); err != nil {
		return Snapshot{}, err
	}
	p := newPaths(g.dir, key)
	doc, warns := g.load(p)
	now := g.clock.Now()
	snap := Snapshot{Key: key, File: p.doc, Document: doc, Warnings: warns}
	b := doc.Breaker
	b.Transitions = slices.Clone(b.Transitions)
	ts := b.advance(g.s.CircuitBreaker, now)
	snap.Breaker = b.report(g.s.CircuitBreaker, now)
	snap.Breaker.Enabled = g.s.CircuitBreaker.Enabled
	snap.Breaker.Transitions = ts
	snap.Budget = g.s.RetryBudget.decide(doc.Budget, now)
	snap.Budget.Enabled = g.s.RetryBudget.Enabled
	return snap, nil
}

// load reads key's document without the lock: a file that cannot be read or decoded gives a
// fresh document and a warning.
func (g *Guardrails) load(p paths) (Document, []string) {
	data, err := g.store.Load(p.doc)
	if err != nil {
		return freshDocument(p.key), []string{fmt.Sprintf("%v; a fresh closed state is assumed", err)}
	}
	doc, problem := decode(p.key, data)
	if problem != "" {
		return doc, []string{corruptWarning(p.doc, problem, false)}
	}
	return doc, nil
}

// update changes key's document under its lock: fn gets the document (a fresh one when absent or
// unusable) and the time, and reports whether it changed it. An unusable document is replaced
// even when fn changes nothing, with a warning.
func (g *Guardrails) update(p paths, fn func(doc *Document, now time.Time) bool) ([]string, error) {
	var warns []string
	err := g.store.Update(p.doc, func(cur []byte) ([]byte, error) {
		warns = nil
		doc, problem := decode(p.key, cur)
		now := g.clock.Now()
		changed := fn(&doc, now)
		if problem != "" {
			warns = append(warns, corruptWarning(p.doc, problem, true))
			changed = true
		}
		if !changed {
			return nil, state.ErrUnchanged
		}
		doc.UpdatedAt = now.UTC()
		return encode(doc)
	})
	return warns, err
}

func corruptWarning(path, problem string, replaced bool) string {
	if replaced {
		return fmt.Sprintf("state file %s is corrupt (%s): replaced by a fresh closed state", path, problem)
	}
	return fmt.Sprintf("state file %s is corrupt (%s): a fresh closed state is assumed", path, problem)
}
