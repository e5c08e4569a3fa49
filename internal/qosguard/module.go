// Package qosguard is the qos_guard program: the resilience.ops.qos_guard Ansible module when it
// is given an argument file, and a command-line tool otherwise.
package qosguard

import (
	"errors"
	"fmt"
	"math"
	"time"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/guard"
	"resilience.ops/internal/module"
	"resilience.ops/internal/storeconf"
	"resilience.ops/internal/textfile"
)

// Spec declares the module's parameters; plugins/modules/qos_guard.py documents the same.
var Spec = module.Spec{
	{Name: "path", Type: module.TypePath, Default: guard.DefaultPath, Aliases: []string{"lock_file"}},
	{Name: "state", Type: module.TypeStr, Default: "status", Choices: []string{"locked", "unlocked", "status"}},
	{Name: "minutes", Type: module.TypeInt, Default: int64(guard.DefaultWindowMinutes), Aliases: []string{"window_minutes"},
		Min: ptr(1), Max: ptr(guard.MaxWindowMinutes)},
	{Name: "owner", Type: module.TypeStr},
	{Name: "reason", Type: module.TypeStr, Default: ""},
	{Name: "lock_id", Type: module.TypeStr},
	{Name: "extend", Type: module.TypeBool, Default: false},
	{Name: "force", Type: module.TypeBool, Default: false},
	{Name: "fail_if_locked", Type: module.TypeBool, Default: false},
	{Name: "textfile_dir", Type: module.TypePath},
}

func init() { Spec = append(Spec, storeconf.Spec...) }

func ptr(f float64) *float64 { return &f }

// Return is what the module returns besides the common keys.
type Return struct {
	guard.Status
	ExpiredLockRemoved bool `json:"expired_lock_removed"`
}

// Handle implements the module.
func Handle(ctx *module.Ctx) (module.Result, error) { return handle(ctx, clock.Real{}) }

func handle(ctx *module.Ctx, c clock.Clock) (module.Result, error) {
	p := ctx.Params
	if err := guard.CheckText(p.Str("owner"), p.Str("reason"), p.Str("lock_id")); err != nil {
		return module.Result{}, limitParamError(err)
	}
	g := guard.New(p.Str("path"))
	g.Clock = c
	st, err := storeconf.Open(p)
	if err != nil {
		// The guard cannot be read: it counts as locked.
		ret := Return{Status: guard.Status{Path: g.Path, Locked: true, Unknown: true}}
		return module.Result{}, &module.Failure{Msg: err.Error(), Data: ret}
	}
	g.Store = st
	var res guard.Result
	switch p.Str("state") {
	case "locked":
		res, err = g.Lock(guard.LockRequest{Minutes: int(p.Int("minutes")), Owner: p.Str("owner"),
			Reason: p.Str("reason"), Extend: p.Bool("extend"), Force: p.Bool("force")}, ctx.CheckMode)
	case "unlocked":
		res, err = g.Unlock(guard.UnlockRequest{LockID: p.Str("lock_id"), Force: p.Bool("force"),
			Reason: p.Str("reason")}, ctx.CheckMode)
	default:
		res, err = g.Status(ctx.CheckMode)
	}
	ret := Return{Status: res.After, ExpiredLockRemoved: res.ExpiredRemoved}
	ret.Path = g.Path
	stats := Artifacts(res.After)
	if res.Warning != "" {
		ctx.Warn("%s", res.Warning)
	}
	if err != nil {
		if errors.Is(err, guard.ErrCorrupt) {
			ret.Status = guard.Status{Path: g.Path, Locked: true, Corrupt: true}
		}
		// Changed: a lock made although its audit line was refused (guard.ErrAudit).
		return module.Result{}, &module.Failure{Msg: err.Error(), Data: ret, Stats: stats, Changed: res.Changed}
	}
	if p.Str("state") == "status" && p.Bool("fail_if_locked") && res.After.Locked {
		return module.Result{}, &module.Failure{Msg: LockedMessage(res.After), Data: ret, Stats: stats}
	}
	logChange(ctx, p.Str("state"), res, p.Str("reason"))
	if dir := p.Str("textfile_dir"); dir != "" && !ctx.CheckMode {
		if err := WriteMetrics(dir, res.After, c.Now()); err != nil {
			ctx.Warn("could not write the guard metrics: %v", err)
		}
	}
	out := module.Result{Changed: res.Changed, Data: ret, Stats: stats, Msg: Summary(res.After)}
	if res.Changed {
		out.Diff = &module.Diff{Before: diffView(res.Before), After: diffView(res.After),
			BeforeHeader: g.Path, AfterHeader: g.Path}
	}
	return out, nil
}

// limitParamError names the parameter of a guard.LimitError, as the other parameter errors do.
func limitParamError(err error) error {
	var le *guard.LimitError
	if errors.As(err, &le) {
		return module.ParamErr(le.Field, "must be at most %d bytes, got %d bytes", le.Max, le.Got)
	}
	return err
}

// logChange writes what changed to the host's syslog (nothing in check mode).
func logChange(ctx *module.Ctx, state string, res guard.Result, reason string) {
	if ctx.CheckMode {
		return
	}
	if res.ExpiredRemoved {
		ctx.Log("QoS guard %s: removed an expired lock", res.After.Path)
	}
	switch {
	case !res.Changed:
	case state == "locked":
		ctx.Log("%s", Summary(res.After))
	case state == "unlocked":
		ctx.Log("QoS guard %s unlocked (was lock %s, owner %s, reason %q); unlock reason: %q",
			res.After.Path, res.Before.LockID, res.Before.Owner, res.Before.Reason, reason)
	}
}

// WriteMetrics writes the guard's state for node_exporter's textfile collector into dir.
func WriteMetrics(dir string, s guard.Status, now time.Time) error {
	label := map[string]string{"guard": s.Path}
	ts := func(v string) float64 {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return 0
		}
		return float64(t.Unix())
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	one := func(v float64) []textfile.Sample { return []textfile.Sample{{Labels: label, Value: v}} }
	return textfile.Write(dir, textfile.FileName("resilience_qos_guard", s.Path), []textfile.Metric{
		{Name: "resilience_qos_guard_locked", Help: "Whether the QoS guard window is locked (a corrupt guard counts as locked).", Samples: one(b(s.Locked))},
		{Name: "resilience_qos_guard_corrupt", Help: "Whether the guard file could not be read.", Samples: one(b(s.Corrupt))},
		{Name: "resilience_qos_guard_expiry_timestamp_seconds", Help: "When the lock expires, as a Unix time; 0 when unlocked.", Samples: one(ts(s.ExpiresAt))},
		{Name: "resilience_qos_guard_locked_timestamp_seconds", Help: "When the lock was taken, as a Unix time; 0 when unlocked.", Samples: one(ts(s.LockedAt))},
		{Name: "resilience_qos_guard_window_seconds", Help: "The window the lock was taken for.", Samples: one(float64(s.WindowMinutes * 60))},
		{Name: "resilience_qos_guard_last_update_timestamp_seconds", Help: "When qos_guard last wrote this file, as a Unix time.", Samples: one(float64(now.Unix()))},
	})
}

// Artifacts are the guard values published for AAP job and workflow templates.
func Artifacts(s guard.Status) map[string]any {
	return map[string]any{
		"qos_guard_locked":            s.Locked,
		"qos_guard_path":              s.Path,
		"qos_guard_lock_id":           s.LockID,
		"qos_guard_expires_at":        s.ExpiresAt,
		"qos_guard_remaining_seconds": s.RemainingSeconds,
		"qos_guard_owner":             s.Owner,
		"qos_guard_reason":            s.Reason,
	}
}

// diffView is the part of the status that --diff shows.
func diffView(s guard.Status) map[string]any {
	if !s.Locked {
		return map[string]any{"locked": false}
	}
	if s.Corrupt {
		return map[string]any{"locked": true, "corrupt": true}
	}
	if s.Unknown {
		return map[string]any{"locked": true, "unknown": true}
	}
	return map[string]any{"locked": true, "lock_id": s.LockID, "expires_at": s.ExpiresAt,
		"owner": s.Owner, "reason": s.Reason, "window_minutes": s.WindowMinutes}
}

// Summary is one line that describes the guard.
func Summary(s guard.Status) string {
	switch {
	case s.Corrupt:
		return fmt.Sprintf("QoS guard %s is corrupt and treated as locked", s.Path)
	case s.Unknown:
		return fmt.Sprintf("QoS guard %s could not be read (its store is unreachable) and is treated as locked", s.Path)
	case !s.Locked:
		return fmt.Sprintf("QoS guard %s is unlocked", s.Path)
	}
	msg := fmt.Sprintf("QoS guard %s is locked until %s (%s remaining), lock %s, owner %s",
		s.Path, s.ExpiresAt, remaining(s.RemainingSeconds), s.LockID, s.Owner)
	if s.Reason != "" {
		msg += ", reason: " + s.Reason
	}
	return msg
}

// LockedMessage explains why a deployment is refused.
func LockedMessage(s guard.Status) string {
	return "deployment refused: " + Summary(s)
}

// remaining formats seconds as a duration ("14m30s"); beyond what a Duration holds (a stored
// expiry centuries away), in hours.
func remaining(sec int64) string {
	if sec > int64(math.MaxInt64/time.Second) || sec < int64(math.MinInt64/time.Second) {
		return fmt.Sprintf("%dh", sec/3600)
	}
	return (time.Duration(sec) * time.Second).String()
}
