// Package contention reproduces the experiment of the AWS Architecture Blog post "Exponential
// Backoff And Jitter": N clients each make one write to a shared resource under optimistic
// concurrency, and retry with the engine's own delay code (retry.Policy.Delay) when they conflict.
// It reports, per jitter mode, how many calls were made in all and when the last client finished.
package contention

import (
	"container/heap"
	"math/rand/v2"
	"time"

	"resilience.ops/internal/retry"
)

// Model of the resource: a successful write holds it for Work; a call that arrives while it is
// held conflicts and fails. The policy's delays are the engine's.
type Model struct {
	Clients     int
	Work        time.Duration // how long one successful write holds the resource
	Policy      retry.Policy  // MaxAttempts is ignored: clients retry until they succeed
	Seed        uint64
	MaxAttempts int // safety bound per client; 0 means 1000
}

// Result of one run.
type Result struct {
	Mode       retry.JitterMode
	Clients    int
	Calls      int           // calls in all, successful or not
	Completion time.Duration // when the last client succeeded
	GaveUp     int           // clients stopped by MaxAttempts
}

type call struct {
	at      time.Duration
	client  int
	attempt int
	prev    time.Duration
}

type queue []call

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].client < q[j].client
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(call)) }
func (q *queue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// Run simulates m. All clients make their first call at time 0. It is deterministic for a seed.
func Run(m Model) Result {
	rng := rand.New(rand.NewPCG(m.Seed, m.Seed^0x9e3779b97f4a7c15))
	max := m.MaxAttempts
	if max == 0 {
		max = 1000
	}
	res := Result{Mode: m.Policy.JitterMode, Clients: m.Clients}
	if !m.Policy.JitterEnabled {
		res.Mode = retry.JitterNone
	}
	q := &queue{}
	for i := 0; i < m.Clients; i++ {
		heap.Push(q, call{at: 0, client: i, attempt: 1})
	}
	var busyUntil time.Duration
	for q.Len() > 0 {
		c := heap.Pop(q).(call)
		res.Calls++
		if c.at >= busyUntil { // the resource is free: the write succeeds
			busyUntil = c.at + m.Work
			if end := c.at + m.Work; end > res.Completion {
				res.Completion = end
			}
			continue
		}
		if c.attempt >= max {
			res.GaveUp++
			continue
		}
		d := m.Policy.Delay(c.attempt-1, c.prev, rng.Float64)
		heap.Push(q, call{at: c.at + d, client: c.client, attempt: c.attempt + 1, prev: d})
	}
	return res
}
