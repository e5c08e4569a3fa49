package retry

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// delays returns the first n delays of p, chaining prev as the engine does.
func delays(p Policy, n int, rnd func() float64) []time.Duration {
	var out []time.Duration
	var prev time.Duration
	for i := range n {
		prev = p.Delay(i, prev, rnd)
		out = append(out, prev)
	}
	return out
}

func seconds5(a, b, c, d, e float64) []time.Duration {
	return []time.Duration{secs(a), secs(b), secs(c), secs(d), secs(e)}
}

func TestDelayPolicies(t *testing.T) {
	t.Parallel()
	with := func(f func(*Policy)) Policy {
		p := noJitter()
		f(&p)
		return p
	}
	tests := []struct {
		name   string
		policy Policy
		want   []time.Duration
	}{
		{"exponential defaults 5,10,20,40,80", noJitter(), seconds5(5, 10, 20, 40, 80)},
		{"exponential capped by max_delay", with(func(p *Policy) { p.MaxDelay = 30 * time.Second }), seconds5(5, 10, 20, 30, 30)},
		{"exponential multiplier 1.5", with(func(p *Policy) { p.BaseDelay = 10 * time.Second; p.BackoffMultiplier = 1.5 }),
			seconds5(10, 15, 22.5, 33.75, 50.625)},
		{"exponential multiplier 1 is fixed", with(func(p *Policy) { p.BackoffMultiplier = 1 }), seconds5(5, 5, 5, 5, 5)},
		{"linear base 10: 10,20,30,40,50", with(func(p *Policy) { p.RetryPolicy = LinearBackoff; p.BaseDelay = 10 * time.Second }),
			seconds5(10, 20, 30, 40, 50)},
		{"linear capped", with(func(p *Policy) {
			p.RetryPolicy = LinearBackoff
			p.BaseDelay, p.MaxDelay = 10*time.Second, 25*time.Second
		}), seconds5(10, 20, 25, 25, 25)},
		{"linear ignores multiplier", with(func(p *Policy) { p.RetryPolicy = LinearBackoff; p.BackoffMultiplier = 3 }),
			seconds5(5, 10, 15, 20, 25)},
		{"fixed base 15", with(func(p *Policy) { p.RetryPolicy = FixedDelay; p.BaseDelay = 15 * time.Second }),
			seconds5(15, 15, 15, 15, 15)},
		{"zero base", with(func(p *Policy) { p.BaseDelay, p.MaxDelay = 0, 0 }), seconds5(0, 0, 0, 0, 0)},
		{"jitter disabled ignores mode", with(func(p *Policy) { p.JitterMode = JitterFull }), seconds5(5, 10, 20, 40, 80)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The random source must not matter without jitter.
			got := delays(tt.policy, 5, func() float64 { t.Fatal("rnd called without jitter"); return 0 })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("delays mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDelayLargeRetryIndexSaturates(t *testing.T) {
	t.Parallel()
	p := noJitter()
	for _, retry := range []int{30, 1000, math.MaxInt32} {
		if got := p.Delay(retry, 0, nil); got != p.MaxDelay {
			t.Errorf("Delay(%d) = %v, want max_delay %v", retry, got, p.MaxDelay)
		}
	}
	p.BaseDelay = 0
	if got := p.Delay(5000, 0, nil); got != 0 {
		t.Errorf("zero base Delay(5000) = %v, want 0", got)
	}
	p = noJitter()
	if got := p.Delay(-3, 0, nil); got != 5*time.Second {
		t.Errorf("Delay(-3) = %v, want the first delay 5s", got)
	}
	p.MaxDelay = math.MaxInt64
	p.JitterEnabled = true
	if got := p.Delay(5000, 0, fixed(1)); got != math.MaxInt64 {
		t.Errorf("additive on the largest cap = %v, want saturation", got)
	}
}

func TestDelayJitterExact(t *testing.T) {
	t.Parallel()
	mode := func(m JitterMode) Policy {
		p := DefaultPolicy()
		p.JitterMode = m
		return p
	}
	tests := []struct {
		name   string
		policy Policy
		retry  int
		prev   time.Duration
		r      float64
		want   time.Duration
	}{
		{"none", mode(JitterNone), 1, 0, 0.7, secs(10)},
		{"additive r=0", mode(JitterAdditive), 0, 0, 0, secs(5)},
		{"additive r=0.5", mode(JitterAdditive), 0, 0, 0.5, secs(5.25)},
		{"additive r=1 upper bound", mode(JitterAdditive), 2, 0, 1, secs(22)},
		{"additive above the cap", mode(JitterAdditive), 20, 0, 1, secs(330)},
		{"full r=0", mode(JitterFull), 2, 0, 0, 0},
		{"full r=0.25", mode(JitterFull), 2, 0, 0.25, secs(5)},
		{"full r=1", mode(JitterFull), 2, 0, 1, secs(20)},
		{"equal r=0", mode(JitterEqual), 2, 0, 0, secs(10)},
		{"equal r=0.5", mode(JitterEqual), 2, 0, 0.5, secs(15)},
		{"equal r=1", mode(JitterEqual), 2, 0, 1, secs(20)},
		{"decorrelated first r=0", mode(JitterDecorrelated), 0, 0, 0, secs(5)},
		{"decorrelated first r=0.5", mode(JitterDecorrelated), 0, 0, 0.5, secs(10)},
		{"decorrelated first r=1", mode(JitterDecorrelated), 0, 0, 1, secs(15)},
		{"decorrelated from prev 20s r=0.5", mode(JitterDecorrelated), 3, secs(20), 0.5, secs(32.5)},
		{"decorrelated prev below base", mode(JitterDecorrelated), 3, secs(1), 1, secs(15)},
		{"decorrelated capped", mode(JitterDecorrelated), 3, secs(200), 1, secs(300)},
		{"faulty source below 0 clamps", mode(JitterFull), 2, 0, -4, 0},
		{"faulty source above 1 clamps", mode(JitterFull), 2, 0, 7, secs(20)},
		{"faulty source NaN clamps", mode(JitterFull), 2, 0, math.NaN(), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.policy.Delay(tt.retry, tt.prev, fixed(tt.r)); got != tt.want {
				t.Errorf("Delay(%d, %v, r=%g) = %v, want %v", tt.retry, tt.prev, tt.r, got, tt.want)
			}
		})
	}
}

// TestDelayJitterBounds draws many values from a seeded source and checks
// every one against the documented bounds.
func TestDelayJitterBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode   JitterMode
		lo, hi func(d, prev, base, maxDelay time.Duration) time.Duration
	}{
		{JitterAdditive,
			func(d, _, _, _ time.Duration) time.Duration { return d },
			func(d, _, _, _ time.Duration) time.Duration { return d + d/10 }},
		{JitterFull,
			func(_, _, _, _ time.Duration) time.Duration { return 0 },
			func(d, _, _, _ time.Duration) time.Duration { return d }},
		{JitterEqual,
			func(d, _, _, _ time.Duration) time.Duration { return d / 2 },
			func(d, _, _, _ time.Duration) time.Duration { return d }},
		{JitterDecorrelated,
			func(_, _, base, _ time.Duration) time.Duration { return base },
			func(_, prev, base, maxDelay time.Duration) time.Duration { return min(max(prev, base)*3, maxDelay) }},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			t.Parallel()
			p := DefaultPolicy()
			p.JitterMode = tt.mode
			plain := noJitter()
			rng := rand.New(rand.NewPCG(1, 2))
			var prev time.Duration
			for i := range 5000 {
				retry := i % 9
				if retry == 0 {
					prev = 0
				}
				d := plain.Delay(retry, 0, nil)
				got := p.Delay(retry, prev, rng.Float64)
				lo, hi := tt.lo(d, prev, p.BaseDelay, p.MaxDelay), tt.hi(d, prev, p.BaseDelay, p.MaxDelay)
				if got < lo || got > hi {
					t.Fatalf("retry %d prev %v: Delay = %v, want within [%v, %v]", retry, prev, got, lo, hi)
				}
				prev = got
			}
		})
	}
}

func TestDelayNilRandom(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	for range 100 {
		if got := p.Delay(0, 0, nil); got < secs(5) || got > secs(5.5) {
			t.Fatalf("Delay with default source = %v, want within [5s, 5.5s]", got)
		}
	}
}

func TestWithRetryAfter(t *testing.T) {
	t.Parallel()
	p := noJitter() // max_delay 300s
	tests := []struct {
		name                 string
		computed, retryAfter time.Duration
		want                 time.Duration
	}{
		{"no retry-after", secs(5), 0, secs(5)},
		{"shorter retry-after does not shorten", secs(20), secs(3), secs(20)},
		{"longer retry-after lengthens", secs(5), secs(30), secs(30)},
		{"retry-after capped by max_delay", secs(5), secs(3600), secs(300)},
		{"computed above the cap is kept", secs(330), secs(3600), secs(330)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := p.withRetryAfter(tt.computed, tt.retryAfter); got != tt.want {
				t.Errorf("withRetryAfter(%v, %v) = %v, want %v", tt.computed, tt.retryAfter, got, tt.want)
			}
		})
	}
}
