package release

import (
	"testing"

	"resilience.ops/internal/modtest"
)

func TestDocsMatchSpec(t *testing.T) {
	modtest.CheckDocs(t, "../../plugins/modules/qos_guard_release.py", Spec, Return{})
}
