package export

import (
	"context"

	"resilience.ops/internal/retry"
	"resilience.ops/internal/state"
	"resilience.ops/internal/textfile"
)

// textfilePlan prepares the file of snap for sys. Session ids are not labels: the file holds the
// last session's values, and node_exporter adds its own job and instance.
func textfilePlan(sys System, snap Snapshot) *plan {
	fs := withLabels(families(snap), constLabels(sys.Labels))
	data := writeText(fs)
	p := &plan{}
	p.preview = Preview{Path: sys.Path, ContentType: textContentType}
	for _, f := range fs {
		for _, s := range f.samples {
			p.preview.Series = append(p.preview.Series, sampleLine(f.name, s))
			p.series++
		}
	}
	p.attempt = func(context.Context) retry.Result {
		// The directory must exist: a missing one is a configuration mistake that creating it
		// would hide. The temporary file's name does not end in .prom: the collector ignores it.
		if err := state.WriteFileMode(sys.Path, data, textfile.FileMode); err != nil {
			return retry.Result{Failure: &retry.Failure{Err: err, Message: err.Error()}}
		}
		return retry.Result{}
	}
	return p
}
