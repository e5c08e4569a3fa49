package export

import (
	"strings"

	"resilience.ops/internal/textfile"
)

// textContentType is the Prometheus text exposition format, as the Pushgateway takes it.
const textContentType = "text/plain; version=0.0.4; charset=utf-8"

// writeText renders fs in the Prometheus text exposition format 0.0.4 (through the collection's one
// text writer, internal/textfile), without timestamps: the Pushgateway rejects them and the textfile
// collector ignores them.
func writeText(fs []family) []byte {
	ms := make([]textfile.Metric, 0, len(fs))
	for _, f := range fs {
		m := textfile.Metric{Name: f.name, Help: f.help, Type: f.typ.String()}
		for _, s := range f.samples {
			ls := make(map[string]string, len(s.labels))
			for _, l := range s.labels {
				ls[l.name] = l.value
			}
			m.Samples = append(m.Samples, textfile.Sample{Suffix: s.suffix, Labels: ls, Value: s.value})
		}
		ms = append(ms, m)
	}
	return []byte(textfile.Format(ms))
}

// sampleLine is `name{a="x",b="y"} value`, as writeText writes it.
func sampleLine(name string, s sample) string {
	text := writeText([]family{{name: name, typ: typeGauge, samples: []sample{s}}})
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	return lines[len(lines)-1]
}

// escapeLabelValue escapes a label value as the text format does.
func escapeLabelValue(s string) string { return textfile.EscapeLabel(s) }
