package main

import (
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseGobench(t *testing.T) {
	t.Parallel()
	out := `goos: linux
pkg: resilience.ops/internal/qosguard
BenchmarkModuleInvocation-2   	     100	   3000000 ns/op	        11.20 peak-MiB	    7040 B/op
BenchmarkModuleInvocation-2   	     100	   5000000 ns/op	        11.30 peak-MiB	    7040 B/op
BenchmarkModuleInvocation-2   	     100	   4000000 ns/op	        11.40 peak-MiB	    7040 B/op
ok  	resilience.ops/internal/qosguard	1.280s
pkg: resilience.ops/internal/retrymod
BenchmarkModuleInvocation-2   	     100	   7000000 ns/op
BenchmarkDelay/full-2         	100000000	        24.00 ns/op
FAIL	resilience.ops/internal/guard [build failed]
`
	s, err := parseGobench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if got, n := s.median("qosguard.BenchmarkModuleInvocation", "ns/op"); got != 4e6 || n != 3 {
		t.Errorf("qosguard ns/op = %v over %d runs, want 4e6 over 3", got, n)
	}
	if got, _ := s.median("qosguard.BenchmarkModuleInvocation", "peak-MiB"); got != 11.3 {
		t.Errorf("peak-MiB = %v, want 11.3", got)
	}
	if got, n := s.median("retrymod.BenchmarkModuleInvocation", "ns/op"); got != 7e6 || n != 1 {
		t.Errorf("retrymod ns/op = %v over %d runs: the packages' benchmarks must not mix", got, n)
	}
	if _, n := s.median("retrymod.BenchmarkDelay/full", "ns/op"); n != 1 {
		t.Errorf("sub-benchmark not parsed: %v", s.order)
	}
	if len(s.failed) != 1 || !strings.Contains(s.failed[0], "internal/guard") {
		t.Errorf("failed = %q", s.failed)
	}
}
