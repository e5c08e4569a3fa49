package module

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"resilience.ops/internal/coerce"
)

// controlBools are the boolean `_ansible_*` keys. ansible-core's AnsibleModule reads every one of
// them (PASS_BOOLS in module_utils/common/parameters.py) with module_utils.parsing.convert_bool's
// boolean() and fails the task when one is not a boolean; so does Run. The runtime uses check
// mode, diff and no_log; _ansible_debug and _ansible_keep_remote_files are only checked.
var controlBools = []struct {
	key string
	dst func(*Control) *bool
	// failClosed is the value the key takes when it cannot be read, so that nothing is written
	// and nothing is logged on the way to the failure.
	failClosed bool
}{
	{"_ansible_check_mode", func(c *Control) *bool { return &c.CheckMode }, true},
	{"_ansible_diff", func(c *Control) *bool { return &c.Diff }, false},
	{"_ansible_no_log", func(c *Control) *bool { return &c.NoLog }, true},
	{"_ansible_debug", nil, false},
	{"_ansible_keep_remote_files", nil, false},
}

// decodeControl reads the control keys of an argument file. The boolean keys are read as
// ansible-core's Python modules read them (see coerce.Bool): a missing or null key is false, and a
// value that is not a boolean is an error. Then the returned Control is in check mode and no_log
// whatever the other keys say, so that a caller that goes on anyway changes and logs nothing.
// The other keys are lenient: a malformed one keeps its zero value.
func decodeControl(raw map[string]any) (Control, error) {
	var c Control
	lenient := make(map[string]any, len(raw))
	for k, v := range raw {
		if strings.HasPrefix(k, "_ansible_") {
			lenient[k] = v
		}
	}
	var errs []error
	for _, b := range controlBools {
		v, given := raw[b.key]
		delete(lenient, b.key)
		if !given || v == nil {
			continue
		}
		val, ok := coerce.Bool(v)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s is not a valid boolean (valid: %s)", b.key, coerce.Describe(v), coerce.BoolText))
		} else if b.dst != nil {
			*b.dst(&c) = val
		}
	}
	ctrlJSON, _ := json.Marshal(lenient)
	_ = json.Unmarshal(ctrlJSON, &c) // lenient: a malformed control key keeps its zero value
	if len(errs) > 0 {
		c.CheckMode, c.NoLog = true, true
		return c, fmt.Errorf("the task's control keys cannot be read, so the module did not run: %w", errors.Join(errs...))
	}
	return c, nil
}
