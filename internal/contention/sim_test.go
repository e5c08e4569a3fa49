package contention

import (
	"testing"
	"time"

	"resilience.ops/internal/retry"
)

func policy(mode retry.JitterMode) retry.Policy {
	p := retry.DefaultPolicy()
	p.BaseDelay, p.MaxDelay = 10*time.Millisecond, 10*time.Second
	p.JitterEnabled, p.JitterMode = mode != retry.JitterNone, mode
	return p
}

func TestSingleClientMakesOneCall(t *testing.T) {
	t.Parallel()
	r := Run(Model{Clients: 1, Work: time.Millisecond, Policy: policy(retry.JitterFull), Seed: 1})
	if r.Calls != 1 || r.Completion != time.Millisecond {
		t.Errorf("got %+v", r)
	}
}

func TestNoJitterSerialisesClients(t *testing.T) {
	t.Parallel()
	// Without jitter all clients retry together: one wins per round, so N clients make
	// N + (N-1) + ... + 1 calls.
	const n = 10
	r := Run(Model{Clients: n, Work: time.Millisecond, Policy: policy(retry.JitterNone), Seed: 1})
	if want := n * (n + 1) / 2; r.Calls != want {
		t.Errorf("calls = %d, want %d", r.Calls, want)
	}
}

func TestJitterReducesCalls(t *testing.T) {
	t.Parallel()
	none := Run(Model{Clients: 100, Work: time.Millisecond, Policy: policy(retry.JitterNone), Seed: 7})
	full := Run(Model{Clients: 100, Work: time.Millisecond, Policy: policy(retry.JitterFull), Seed: 7})
	if full.Calls >= none.Calls {
		t.Errorf("full jitter made %d calls, no jitter %d: jitter should reduce contention", full.Calls, none.Calls)
	}
	again := Run(Model{Clients: 100, Work: time.Millisecond, Policy: policy(retry.JitterFull), Seed: 7})
	if again != full {
		t.Errorf("not deterministic for a seed: %+v vs %+v", again, full)
	}
}
