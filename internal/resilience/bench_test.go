package resilience

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"resilience.ops/internal/retry"
	"resilience.ops/internal/state"
)

// benchSettings records into every part of the document (breaker, budget, history) with windows
// long enough that nothing leaves them during a run, so the counts can be checked.
func benchSettings(dir string) Settings {
	s := enabled(dir)
	s.Bulkhead.Enabled = false
	s.CircuitBreaker.Window, s.RetryBudget.Window, s.Adaptive.Window = MaxWindow, MaxWindow, MaxWindow
	return s
}

// checkCalls fails b when the document does not hold want calls: a lost update.
func checkCalls(b *testing.B, g *Guardrails, want int) {
	b.Helper()
	doc := readDoc(b, g, key)
	got := doc.Budget.sum(time.Now(), MaxWindow).Calls
	b.ReportMetric(float64(want-got), "lost")
	if got != want {
		b.Fatalf("%d calls recorded, want %d: lost updates", got, want)
	}
}

// stores are the document stores compared: the default (atomic rename, no fsync) and
// state.FileStore (atomic rename and two fsyncs per update).
var stores = []struct {
	name    string
	durable bool
}{{"store=default", false}, {"store=fsync", true}}

func benchGuardrails(b *testing.B, durable bool) *Guardrails {
	var opts []Option
	if durable {
		opts = append(opts, WithStore(state.FileStore{}))
	}
	g, err := New(benchSettings(b.TempDir()), opts...)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// BenchmarkStateUpdate is the cost of recording one attempt (a locked, atomic replacement of the
// document) without contention.
func BenchmarkStateUpdate(b *testing.B) {
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			g := benchGuardrails(b, st.durable)
			for b.Loop() {
				if r, _ := g.Record(key, "", false); !r.Recorded {
					b.Fatal(r.Warnings)
				}
			}
			checkCalls(b, g, b.N)
		})
	}
}

// BenchmarkStateUpdateContended50 records attempts from 50 goroutines at once, each update with
// its own lock file descriptor, as 50 processes contend. ns/op is the host's cost per update
// (the time divided by all updates).
func BenchmarkStateUpdateContended50(b *testing.B) {
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			g := benchGuardrails(b, st.durable)
			b.SetParallelism((50 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if r, _ := g.Record(key, "", false); !r.Recorded {
						b.Error(r.Warnings)
					}
				}
			})
			b.StopTimer()
			checkCalls(b, g, b.N)
		})
	}
}

// BenchmarkStateUpdate50Processes splits b.N updates over 50 processes started together:
// ns/op is the wall time divided by the updates, the host's cost per update under 50-way
// contention. Also reported: latency-ms/op, the mean time one process took per update (its wait
// in the lock queue included), and lost, the updates missing from the document (must be 0).
// Run it with a fixed count, for example -benchtime=5000x.
func BenchmarkStateUpdate50Processes(b *testing.B) {
	if runtime.GOOS == "windows" {
		b.Skip("Unix only")
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			g := benchGuardrails(b, st.durable)
			per := (b.N + processes - 1) / processes
			b.StopTimer()
			hs := startHelpers(b, processes, helperArgs{Mode: "bench", Settings: g.Settings(), Key: key, N: per, Durable: st.durable})
			b.StartTimer()
			lines, wall := releaseHelpers(b, hs)
			b.StopTimer()
			var latency time.Duration
			for _, l := range lines {
				ns, err := strconv.ParseInt(l, 10, 64)
				if err != nil {
					b.Fatalf("helper said %q", l)
				}
				latency += time.Duration(ns)
			}
			total := processes * per
			b.ReportMetric(float64(wall.Nanoseconds())/float64(total), "ns/op")
			b.ReportMetric(latency.Seconds()*1000/float64(total), "latency-ms/op")
			checkCalls(b, g, total)
		})
	}
}

// BenchmarkBeforeClosed is the admission of a closed breaker: one read, no lock.
func BenchmarkBeforeClosed(b *testing.B) {
	s := benchSettings(b.TempDir())
	g, err := New(s)
	if err != nil {
		b.Fatal(err)
	}
	g.Record(key, "", false)
	ctx := context.Background()
	for b.Loop() {
		adm, err := g.Before(ctx, key)
		if err != nil || !adm.Admitted {
			b.Fatal(err)
		}
	}
}

// BenchmarkBulkheadSlot takes and gives back a bulkhead slot.
func BenchmarkBulkheadSlot(b *testing.B) {
	s := DefaultSettings()
	s.Dir = b.TempDir()
	s.Bulkhead.Enabled = true
	g, err := New(s)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		adm, err := g.Before(ctx, key)
		if err != nil || !adm.Bulkhead.Acquired {
			b.Fatal(err)
		}
		g.AfterAttempt(adm, retry.ErrorType(""), false)
	}
}

// BenchmarkBreakerUpdateStores is the cost of recording one attempt (breaker, budget and
// history in one document update) in local files and in a 3-member etcd cluster on loopback
// (a read and a compare-and-swap transaction). A report, never a test.
func BenchmarkBreakerUpdateStores(b *testing.B) {
	for _, bk := range backends {
		b.Run("store="+bk.name, func(b *testing.B) {
			g, err := New(benchSettings(b.TempDir()), bk.opts(b)...)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if r, _ := g.Record(key, "", false); !r.Recorded {
					b.Fatal(r.Warnings)
				}
			}
			checkCalls(b, g, b.N)
		})
	}
}

// BenchmarkBulkheadSlotStores is taking and releasing a bulkhead slot: an flock on a local file,
// or a lease, a create transaction and a revoke in etcd.
func BenchmarkBulkheadSlotStores(b *testing.B) {
	for _, bk := range backends {
		b.Run("store="+bk.name, func(b *testing.B) {
			s := DefaultSettings()
			s.Dir = b.TempDir()
			s.Bulkhead = BulkheadSettings{Enabled: true, MaxConcurrent: 2, MaxWait: 0}
			g, err := New(s, bk.opts(b)...)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				adm, err := g.Before(context.Background(), key)
				if err != nil || !adm.Admitted {
					b.Fatalf("%v %v", err, adm.Warnings)
				}
				adm.Release()
			}
		})
	}
}
