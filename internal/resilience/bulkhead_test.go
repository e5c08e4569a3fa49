package resilience

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/retry"
)

// bulkheadOnly is the bulkhead alone: 2 slots, 1 s of waiting.
func bulkheadOnly(dir string) Settings {
	s := DefaultSettings()
	s.Dir = dir
	s.Bulkhead = BulkheadSettings{Enabled: true, MaxConcurrent: 2, MaxWait: time.Second}
	return s
}

func TestBulkheadWaitsThenRefuses(t *testing.T) { eachStore(t, testBulkheadWaitsThenRefuses) }

func testBulkheadWaitsThenRefuses(t *testing.T, b backend) {
	t.Parallel()
	g, clk := b.newTest(t, bulkheadOnly(t.TempDir()))
	a1, a2 := before(t, g, key), before(t, g, key)
	defer a1.Release()
	defer a2.Release()
	if !a1.Bulkhead.Acquired || !a2.Bulkhead.Acquired || *a1.Bulkhead.Slot == *a2.Bulkhead.Slot || a1.Bulkhead.Waited != 0 {
		t.Fatalf("two slots: %s\n%s", toJSON(a1), toJSON(a2))
	}
	a3 := before(t, g, key)
	if a3.Admitted || a3.ErrorType != retry.BulkheadFull || a3.Bulkhead.Acquired || a3.Bulkhead.Waited != 1 {
		t.Fatalf("a third call: %s", toJSON(a3))
	}
	if !strings.Contains(a3.Message, "all 2 slots (max_concurrent) stayed taken for 1s (max_wait 1s)") {
		t.Errorf("message = %q", a3.Message)
	}
	var total time.Duration
	for _, d := range clk.Sleeps() {
		if d <= 0 || d > BulkheadPollInterval*3/2 {
			t.Errorf("poll wait %s out of bounds", d)
		}
		total += d
	}
	if total != time.Second {
		t.Errorf("waited %s in all, want max_wait 1s", total)
	}
}

func TestBulkheadSlotFreedWhileWaiting(t *testing.T) { eachStore(t, testBulkheadSlotFreedWhileWaiting) }

func testBulkheadSlotFreedWhileWaiting(t *testing.T, b backend) {
	t.Parallel()
	g, clk := b.newTest(t, bulkheadOnly(t.TempDir()))
	a1, a2 := before(t, g, key), before(t, g, key)
	defer a2.Release()
	clk.OnSleep(func(_ context.Context, n int, _ time.Duration) error {
		if n == 3 {
			g.AfterAttempt(a1, "", false)
		}
		return nil
	})
	a3 := before(t, g, key)
	defer a3.Release()
	if !a3.Admitted || !a3.Bulkhead.Acquired || *a3.Bulkhead.Slot != *a1.Bulkhead.Slot || a3.Bulkhead.Waited != 0.15 {
		t.Fatalf("after a slot was freed: %s", toJSON(a3))
	}
}

func TestBulkheadNoWait(t *testing.T) { eachStore(t, testBulkheadNoWait) }

func testBulkheadNoWait(t *testing.T, b backend) {
	t.Parallel()
	s := bulkheadOnly(t.TempDir())
	s.Bulkhead.MaxConcurrent, s.Bulkhead.MaxWait = 1, 0
	g, clk := b.newTest(t, s)
	a1 := before(t, g, key)
	defer a1.Release()
	if a2 := before(t, g, key); a2.Admitted || a2.ErrorType != retry.BulkheadFull || len(clk.Sleeps()) != 0 {
		t.Fatalf("max_wait 0: %s, sleeps %v", toJSON(a2), clk.Sleeps())
	}
	// Another key has its own slots.
	other := before(t, g, "another-service")
	defer other.Release()
	if !other.Admitted {
		t.Fatalf("another key: %s", toJSON(other))
	}
}

func TestBulkheadCancelled(t *testing.T) { eachStore(t, testBulkheadCancelled) }

func testBulkheadCancelled(t *testing.T, b backend) {
	t.Parallel()
	g, clk := b.newTest(t, bulkheadOnly(t.TempDir()))
	a1, a2 := before(t, g, key), before(t, g, key)
	defer a1.Release()
	defer a2.Release()
	ctx, cancel := context.WithCancel(t.Context())
	clk.OnSleep(func(_ context.Context, n int, _ time.Duration) error {
		if n == 2 {
			cancel()
		}
		return nil
	})
	a3, err := g.Before(ctx, key)
	if !errors.Is(err, context.Canceled) || a3 == nil || a3.Admitted {
		t.Fatalf("Before = %v, %v", a3, err)
	}
}

func TestBulkheadReleaseIsIdempotent(t *testing.T) { eachStore(t, testBulkheadReleaseIsIdempotent) }

func testBulkheadReleaseIsIdempotent(t *testing.T, b backend) {
	t.Parallel()
	s := bulkheadOnly(t.TempDir())
	s.Bulkhead.MaxConcurrent, s.Bulkhead.MaxWait = 1, 0
	g, _ := b.newTest(t, s)
	a1 := before(t, g, key)
	a1.Release()
	a1.Release()
	g.AfterAttempt(a1, "", false)
	a2 := before(t, g, key)
	defer a2.Release()
	if !a2.Admitted {
		t.Fatalf("after release: %s", toJSON(a2))
	}
}

// The breaker refuses before the bulkhead waits, and a call refused by the bulkhead gives its
// trial slot back.
func TestBreakerBeforeBulkhead(t *testing.T) { eachStore(t, testBreakerBeforeBulkhead) }

func testBreakerBeforeBulkhead(t *testing.T, b backend) {
	t.Parallel()
	s := breakerOnly(t.TempDir())
	s.CircuitBreaker.HalfOpenMaxCalls = 2
	s.Bulkhead = BulkheadSettings{Enabled: true, MaxConcurrent: 1, MaxWait: time.Second}
	g, clk := b.newTest(t, s)
	openBreaker(t, g)
	if adm := before(t, g, key); adm.ErrorType != retry.CircuitOpen || len(clk.Sleeps()) != 0 {
		t.Fatalf("open breaker: %s, waited %v", toJSON(adm), clk.Sleeps())
	}
	clk.Advance(30 * time.Second)
	t1 := before(t, g, key) // a trial, holding the only bulkhead slot
	defer t1.Release()
	if !t1.Admitted || !t1.Breaker.Trial || !t1.Bulkhead.Acquired {
		t.Fatalf("first trial: %s", toJSON(t1))
	}
	t2 := before(t, g, key) // the second trial slot, but no bulkhead slot
	if t2.ErrorType != retry.BulkheadFull || !t2.Breaker.Trial {
		t.Fatalf("second trial: %s", toJSON(t2))
	}
	t1.releaseSlot() // the first trial keeps its trial slot, frees the bulkhead
	t3 := before(t, g, key)
	defer t3.Release()
	if !t3.Admitted || !t3.Breaker.Trial {
		t.Fatalf("the trial slot of the call refused by the bulkhead was not given back: %s", toJSON(t3))
	}
}

// A waiter that opened a slot file before it was removed must not hold a lock on the removed
// file while a newcomer locks the new one.
func TestSlotFileReplaced(t *testing.T) {
	t.Parallel()
	p := newPaths(t.TempDir(), key)
	holder := newSlotSet(1, p.slot)
	_, held, err := holder.try(0)
	if err != nil || held == nil {
		t.Fatalf("take: %v", err)
	}
	waiter := newSlotSet(1, p.slot)
	defer waiter.close()
	if i, f, err := waiter.try(0); i != -1 || f != nil || err != nil {
		t.Fatalf("a held slot was taken: %d, %v", i, err)
	}
	if err := os.Remove(p.slot(0)); err != nil {
		t.Fatal(err)
	}
	held.Close()
	// The waiter's open file is the removed one: it must not count as the slot.
	if i, f, _ := waiter.try(0); f != nil {
		f.Close()
		t.Fatalf("the waiter took slot %d through the removed file", i)
	}
	i, f, err := waiter.try(0)
	if err != nil || f == nil {
		t.Fatalf("the waiter did not take the current file: %d, %v", i, err)
	}
	defer f.Close()
	if !sameFile(f, p.slot(0)) {
		t.Error("the slot taken is not the file at the path")
	}
}
