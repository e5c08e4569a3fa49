package retry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		global, perOp Overrides
		want          func(*Policy)
	}{
		{"nothing set gives the defaults", Overrides{}, Overrides{}, func(*Policy) {}},
		{"global overrides defaults", Overrides{MaxAttempts: new(5), BaseDelay: new(10 * time.Second)}, Overrides{},
			func(p *Policy) { p.MaxAttempts, p.BaseDelay = 5, 10*time.Second }},
		{"per-operation overrides global", Overrides{MaxAttempts: new(5), MaxDelay: new(600 * time.Second)},
			Overrides{MaxAttempts: new(2), BackoffMultiplier: new(1.5)},
			func(p *Policy) { p.MaxAttempts, p.MaxDelay, p.BackoffMultiplier = 2, 600*time.Second, 1.5 }},
		{"per-operation alone overrides defaults", Overrides{}, Overrides{RetryPolicy: new(LinearBackoff)},
			func(p *Policy) { p.RetryPolicy = LinearBackoff }},
		{"false and zero are values, not unset", Overrides{JitterEnabled: new(false), RetryUnknown: new(false)},
			Overrides{BaseDelay: new(time.Duration(0))},
			func(p *Policy) { p.JitterEnabled, p.RetryUnknown, p.BaseDelay = false, false, 0 }},
		{"every field", Overrides{}, Overrides{
			MaxAttempts: new(7), RetryPolicy: new(FixedDelay), BaseDelay: new(time.Second), MaxDelay: new(time.Minute),
			BackoffMultiplier: new(3.0), JitterEnabled: new(true), JitterMode: new(JitterFull), MaxTotalTime: new(time.Hour),
			AttemptTimeout: new(time.Minute), RetryConditions: []ErrorType{Timeout}, RetryUnknown: new(false),
		}, func(p *Policy) {
			*p = Policy{7, FixedDelay, time.Second, time.Minute, 3, true, JitterFull, time.Hour, time.Minute, []ErrorType{Timeout}, false}
		}},
		{"global retry_conditions replace the defaults", Overrides{RetryConditions: []ErrorType{Timeout, ResourceBusy}}, Overrides{},
			func(p *Policy) { p.RetryConditions = []ErrorType{Timeout, ResourceBusy} }},
		{"nil per-operation retry_conditions inherit", Overrides{RetryConditions: []ErrorType{Timeout}}, Overrides{RetryConditions: nil},
			func(p *Policy) { p.RetryConditions = []ErrorType{Timeout} }},
		{"empty per-operation retry_conditions replace", Overrides{RetryConditions: []ErrorType{Timeout}}, Overrides{RetryConditions: []ErrorType{}},
			func(p *Policy) { p.RetryConditions = []ErrorType{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := DefaultPolicy()
			tt.want(&want)
			got := Resolve(DefaultPolicy(), tt.global, tt.perOp)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Resolve mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResolveOperationConfigs resolves the reference's operation_configs.
func TestResolveOperationConfigs(t *testing.T) {
	t.Parallel()
	global := Overrides{MaxAttempts: new(4)}
	ops := map[string]Overrides{
		"vmware_vm_create":      {MaxAttempts: new(5), BaseDelay: new(10 * time.Second), MaxDelay: new(600 * time.Second), BackoffMultiplier: new(1.5)},
		"network_configuration": {BaseDelay: new(8 * time.Second), MaxDelay: new(240 * time.Second)},
	}
	create := Resolve(DefaultPolicy(), global, ops["vmware_vm_create"])
	if got, want := delays(noJitterOf(create), 4, nil), []time.Duration{secs(10), secs(15), secs(22.5), secs(33.75)}; !cmp.Equal(got, want) {
		t.Errorf("vmware_vm_create delays = %v, want %v", got, want)
	}
	network := Resolve(DefaultPolicy(), global, ops["network_configuration"])
	if network.MaxAttempts != 4 || network.BaseDelay != 8*time.Second || network.BackoffMultiplier != 2 {
		t.Errorf("network_configuration = %+v, want global max_attempts 4, base 8s, default multiplier 2", network)
	}
	other := Resolve(DefaultPolicy(), global, ops["unlisted"])
	if other.MaxAttempts != 4 || other.BaseDelay != DefaultBaseDelay {
		t.Errorf("unlisted operation = %+v, want global then defaults", other)
	}
	// The combination is validated after resolving: a per-operation
	// max_delay below the global base_delay.
	bad := Resolve(DefaultPolicy(), Overrides{BaseDelay: new(60 * time.Second)}, Overrides{MaxDelay: new(30 * time.Second)})
	if err := bad.Validate(); err == nil || err.Error() != "max_delay must be at least base_delay (60s), got 30s" {
		t.Errorf("Validate() = %v", err)
	}
}

func noJitterOf(p Policy) Policy {
	p.JitterEnabled = false
	return p
}

func TestResolveSharesNoMemory(t *testing.T) {
	t.Parallel()
	defaults := DefaultPolicy()
	global := Overrides{RetryConditions: []ErrorType{Timeout}}
	got := Resolve(defaults, global, Overrides{})
	global.RetryConditions[0] = ResourceBusy
	if got.RetryConditions[0] != Timeout {
		t.Error("Resolve result aliases the global overrides")
	}
	got = Resolve(defaults, Overrides{}, Overrides{})
	got.RetryConditions[0] = ResourceBusy
	if defaults.RetryConditions[0] != ConnectionError {
		t.Error("Resolve result aliases the defaults")
	}
}
