package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"resilience.ops/internal/retry"
)

// textfileMode lets node_exporter, which runs as another user, read the file.
const textfileMode = 0o644

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
		if err := writeFileAtomic(sys.Path, data, textfileMode); err != nil {
			return retry.Result{Failure: &retry.Failure{Err: err, Message: err.Error()}}
		}
		return retry.Result{}
	}
	return p
}

// writeFileAtomic replaces path with data so that a reader sees the old file or the new one,
// never half of one: a temporary file in the same directory (its name does not end in .prom, so
// the collector ignores it) is written, synced, given mode and renamed over path. The directory
// must exist: a missing one is a configuration mistake that creating it would hide.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	syncDir(dir)
	return nil
}

// syncDir makes the rename durable where the platform allows it (not on Windows, where a
// directory cannot be opened for syncing; the error is ignored).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
