package retrymod

import (
	"testing"

	"resilience.ops/internal/modtest"
)

func TestDocsMatchSpec(t *testing.T) {
	modtest.CheckDocs(t, "../../plugins/modules/retry_manager.py", Spec, Return{})
}
