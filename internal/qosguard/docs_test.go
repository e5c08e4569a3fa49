package qosguard

import (
	"fmt"
	"strings"
	"testing"

	"resilience.ops/internal/guard"
	"resilience.ops/internal/modtest"
)

func TestDocsMatchSpec(t *testing.T) {
	modtest.CheckDocs(t, "../../plugins/modules/qos_guard.py", Spec, Return{})
}

// The size limits of the free text are documented with the values the code checks.
func TestDocsStateLimits(t *testing.T) {
	const py = "../../plugins/modules/qos_guard.py"
	for name, max := range map[string]int{"reason": guard.MaxReasonBytes, "owner": guard.MaxOwnerBytes, "lock_id": guard.MaxLockIDBytes} {
		if want := fmt.Sprintf("At most %d bytes", max); !strings.Contains(modtest.OptionDescription(t, py, name), want) {
			t.Errorf("%s: the description of %s does not say %q", py, name, want)
		}
	}
}
