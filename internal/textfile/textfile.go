// Package textfile writes metrics in the Prometheus text exposition format, and files of them for
// node_exporter's textfile collector, atomically (a temporary file renamed in the same directory) so
// that the collector never reads half a file. Files are mode 0644: node_exporter runs as another
// user.
package textfile

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"resilience.ops/internal/state"
)

// FileMode lets node_exporter, which runs as another user, read the files.
const FileMode = 0o644

// Sample is one value of a metric with its labels. Suffix is "" or, for a summary, _sum or _count.
type Sample struct {
	Suffix string
	Labels map[string]string
	Value  float64
}

// Metric is a metric family: its help text, type (gauge when empty) and samples. Families
// without samples are left out: a TYPE line alone is valid but useless.
type Metric struct {
	Name    string
	Help    string
	Type    string // gauge, counter or summary
	Samples []Sample
}

// Format renders metrics in the Prometheus text exposition format.
func Format(metrics []Metric) string {
	var b strings.Builder
	for _, m := range metrics {
		if len(m.Samples) == 0 {
			continue
		}
		typ := m.Type
		if typ == "" {
			typ = "gauge"
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m.Name, escapeHelp(m.Help), m.Name, typ)
		for _, s := range m.Samples {
			b.WriteString(m.Name + s.Suffix)
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
					fmt.Fprintf(&b, "%s=\"%s\"", k, EscapeLabel(s.Labels[k]))
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

// EscapeLabel escapes a label value for the text format.
func EscapeLabel(s string) string {
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

// Write replaces dir/name with metrics atomically, mode 0644. dir must exist: it is
// node_exporter's --collector.textfile.directory, and creating it would hide a mistake.
func Write(dir, name string, metrics []Metric) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("textfile_dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("textfile_dir %s is not a directory", dir)
	}
	return state.WriteFileMode(filepath.Join(dir, name), []byte(Format(metrics)), FileMode)
}
