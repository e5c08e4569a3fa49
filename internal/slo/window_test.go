package slo

import (
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"15m", 15 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"90s", 90 * time.Second, false},
		{"1d", 24 * time.Hour, false},
		{"15x", 0, true},
		{"15", 0, true},
		{"", 0, true},
		{"0", 0, true},
		{"-5m", 0, true},
		{"30m1h", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseWindow(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if got := formatWindow(90 * time.Minute); got != "1h30m" {
		t.Errorf("formatWindow(90m) = %q", got)
	}
}

func TestEvaluable(t *testing.T) {
	t.Parallel()
	locked := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lockedAt time.Time
		now      time.Time
		window   time.Duration
		ok       bool
		wait     time.Duration
	}{
		{"just locked", locked, locked, 15 * time.Minute, false, 15 * time.Minute},
		{"window still reaches before the lock", locked, locked.Add(10 * time.Minute), 15 * time.Minute, false, 5 * time.Minute},
		{"window starts at the lock", locked, locked.Add(15 * time.Minute), 15 * time.Minute, true, 0},
		{"long after", locked, locked.Add(time.Hour), 15 * time.Minute, true, 0},
		{"no lock", time.Time{}, locked, 15 * time.Minute, true, 0},
		{"lock in the future (clock skew)", locked.Add(time.Minute), locked, 15 * time.Minute, false, 16 * time.Minute},
	}
	for _, tt := range tests {
		ok, wait := Evaluable(tt.lockedAt, tt.now, tt.window)
		if ok != tt.ok || wait != tt.wait {
			t.Errorf("%s: Evaluable = %v, %v; want %v, %v", tt.name, ok, wait, tt.ok, tt.wait)
		}
	}
}
