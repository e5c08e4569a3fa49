package export

import (
	"context"
	"path/filepath"
	"strings"

	"resilience.ops/internal/clock"
	"resilience.ops/internal/retry"
	"resilience.ops/internal/state"
	"resilience.ops/internal/textfile"
)

// TypeTextfile is a file for node_exporter's textfile collector.
const TypeTextfile Type = "textfile"

func init() {
	register(kind{Type: TypeTextfile, Order: 3, Events: metricsOnly, DefaultEvents: metricsOnly,
		Keys: []string{"path", "directory", "labels"},
		// "textfile" in the name, with a path or directory.
		InferRank: 4, Infer: func(h inferHint) bool { return strings.Contains(h.name, "textfile") && h.hasPath },
		parse: func(p *parser, m map[string]any, s *System) { s.Path, s.Labels = p.textfilePath(m), p.labels(m) },
		plan: func(sys System, snap Snapshot, _ Event, _ clock.Clock, _ *httpSender) *plan {
			return textfilePlan(sys, snap)
		},
	})
}

func (p *parser) textfilePath(m map[string]any) string {
	path, dir := strings.TrimSpace(p.str(m, "path")), strings.TrimSpace(p.str(m, "directory"))
	switch {
	case path != "" && dir != "":
		p.fail("path", "and directory are mutually exclusive: give the file (path) or its directory (directory)")
		return ""
	case dir != "":
		if !filepath.IsAbs(dir) {
			p.fail("directory", "must be an absolute path, got %q", dir)
			return ""
		}
		return filepath.Join(dir, DefaultTextfileName)
	case path != "":
		if !filepath.IsAbs(path) {
			p.fail("path", "must be an absolute path, got %q", path)
			return ""
		}
		if !strings.HasSuffix(path, ".prom") {
			p.fail("path", "must end in .prom: node_exporter's textfile collector reads only *.prom files, got %q", path)
			return ""
		}
		return filepath.Clean(path)
	}
	p.fail("path", "textfile systems need path (the .prom file) or directory (node_exporter's --collector.textfile.directory)")
	return ""
}

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
