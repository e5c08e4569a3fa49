// Package textfile writes metrics for node_exporter's textfile collector: the Prometheus text
// format, written atomically (a temporary file renamed in the same directory) so that the collector
// never reads half a file. Files are mode 0644: node_exporter runs as another user.
package textfile

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Sample is one value of a metric with its labels.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Metric is a gauge with its help text and samples.
type Metric struct {
	Name    string
	Help    string
	Samples []Sample
}

// Format renders metrics in the Prometheus text exposition format.
func Format(metrics []Metric) string {
	var b strings.Builder
	for _, m := range metrics {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", m.Name, escapeHelp(m.Help), m.Name)
		for _, s := range m.Samples {
			b.WriteString(m.Name)
			if len(s.Labels) > 0 {
				keys := make([]string, 0, len(s.Labels))
				for k := range s.Labels {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				b.WriteByte('{')
				for i, k := range keys {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%s=\"%s\"", k, escapeLabel(s.Labels[k]))
				}
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(formatValue(s.Value))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e15: // timestamps and counts read better in full
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

// FileName turns an identifier (a guard path) into a safe file name: <prefix>_<sanitised>.prom.
func FileName(prefix, id string) string {
	var b strings.Builder
	for _, r := range strings.Trim(id, "/") {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 100 {
		name = name[len(name)-100:]
	}
	return prefix + "_" + name + ".prom"
}

// Write replaces dir/name with metrics atomically. dir must exist: it is node_exporter's
// --collector.textfile.directory.
func Write(dir, name string, metrics []Metric) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("textfile_dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("textfile_dir %s is not a directory", dir)
	}
	// The collector reads only *.prom files, so the temporary name is never picked up.
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("textfile_dir %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(Format(metrics)); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}
