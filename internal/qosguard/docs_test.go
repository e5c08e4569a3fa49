package qosguard

import (
	"testing"

	"resilience.ops/internal/modtest"
)

func TestDocsMatchSpec(t *testing.T) {
	modtest.CheckDocs(t, "../../plugins/modules/qos_guard.py", Spec, Return{})
}
