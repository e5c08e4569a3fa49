package resilience

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"resilience.ops/internal/retry"
)

func TestBudgetDecide(t *testing.T) {
	t.Parallel()
	s := RetryBudgetSettings{Enabled: true, Ratio: 0.1, MinRetries: 2, Window: time.Minute}
	now := t0.Add(time.Hour)
	at := now.Truncate(bucketWidth(s.Window))
	tests := []struct {
		name                 string
		calls, retries, deny int
		allowed              bool
		budget               float64
	}{
		{name: "no traffic: min_retries", allowed: true, budget: 2},
		{name: "min_retries spent", calls: 5, retries: 2, allowed: false, budget: 2},
		{name: "ratio above the minimum", calls: 50, retries: 4, allowed: true, budget: 5},
		{name: "ratio spent", calls: 50, retries: 5, allowed: false, budget: 5},
		{name: "fractional budget", calls: 55, retries: 5, allowed: true, budget: 5.5},
		{name: "refusals are counted", calls: 10, retries: 2, deny: 3, allowed: false, budget: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			series := Series{{Start: at, Calls: tt.calls, Retries: tt.retries, Denied: tt.deny}}
			d := s.decide(series, now)
			wantDenied := tt.deny
			if !tt.allowed {
				wantDenied++
			}
			if d.Allowed != tt.allowed || d.Budget != tt.budget || d.Calls != tt.calls || d.Retries != tt.retries || d.Denied != wantDenied {
				t.Errorf("decide = %s", toJSON(d))
			}
		})
	}
}

func TestBudgetAccounting(t *testing.T) { eachStore(t, testBudgetAccounting) }

func testBudgetAccounting(t *testing.T, b backend) {
	t.Parallel()
	s := DefaultSettings()
	s.Dir = t.TempDir()
	s.RetryBudget = RetryBudgetSettings{Enabled: true, Ratio: 0.1, MinRetries: 2, Window: time.Minute}
	g, clk := b.newTest(t, s)

	var got []bool
	for range 3 {
		d, err := g.AllowRetry(key)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Allowed)
	}
	if diff := cmp.Diff([]bool{true, true, false}, got); diff != "" {
		t.Fatalf("min_retries 2 without traffic (-want +got):\n%s", diff)
	}
	d, _ := g.AllowRetry(key)
	if d.Reason != "retry budget exhausted: 2 retries and 0 calls in the last 60s; budget max(min_retries 2, ratio 10% of calls) = 2" || d.Denied != 2 {
		t.Errorf("refusal: %s", toJSON(d))
	}

	// 30 calls make a budget of 3: one more retry.
	for range 30 {
		if _, err := g.Record(key, "", false); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := g.AllowRetry(key); !d.Allowed || d.Calls != 30 || d.Retries != 2 || d.Budget != 3 {
		t.Fatalf("after 30 calls: %s", toJSON(d))
	}
	if d, _ := g.AllowRetry(key); d.Allowed {
		t.Fatalf("the fourth retry of 30 calls was allowed: %s", toJSON(d))
	}
	doc := readDoc(t, g, key)
	total := doc.Budget.sum(clk.Now(), time.Minute)
	if total.Calls != 30 || total.Retries != 3 || total.Denied != 3 {
		t.Errorf("stored budget: %s", toJSON(doc.Budget))
	}

	// The window slides: after a minute the budget is whole again.
	clk.Advance(time.Minute)
	if d, _ := g.AllowRetry(key); !d.Allowed || d.Calls != 0 || d.Retries != 0 {
		t.Errorf("a minute later: %s", toJSON(d))
	}
	if n := len(readDoc(t, g, key).Budget); n != 1 {
		t.Errorf("%d buckets kept, want the old ones pruned", n)
	}
}

func TestBudgetCountsEveryAttempt(t *testing.T) { eachStore(t, testBudgetCountsEveryAttempt) }

func testBudgetCountsEveryAttempt(t *testing.T, b backend) {
	t.Parallel()
	s := DefaultSettings()
	s.Dir = t.TempDir()
	s.RetryBudget.Enabled = true
	g, clk := b.newTest(t, s)
	for _, typ := range []retry.ErrorType{"", retry.ConnectionError, retry.AuthenticationError, retry.BulkheadFull} {
		attempt(t, g, key, typ)
	}
	// A reserved type is not a call; the others are, counted or not by the breaker.
	if got := readDoc(t, g, key).Budget.sum(clk.Now(), s.RetryBudget.Window).Calls; got != 3 {
		t.Errorf("calls = %d, want 3", got)
	}
}
