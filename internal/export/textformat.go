package export

import (
	"math"
	"strconv"
	"strings"
)

// textContentType is the Prometheus text exposition format, as the Pushgateway takes it.
const textContentType = "text/plain; version=0.0.4; charset=utf-8"

// writeText renders fs in the Prometheus text exposition format 0.0.4: HELP and TYPE lines, then
// one line per sample, without timestamps (the Pushgateway rejects them, the textfile collector
// ignores them). Families without samples are left out: a TYPE line alone is valid but useless.
func writeText(fs []family) []byte {
	var b strings.Builder
	for _, f := range fs {
		if len(f.samples) == 0 {
			continue
		}
		b.WriteString("# HELP " + f.name + " " + escapeHelp(f.help) + "\n")
		b.WriteString("# TYPE " + f.name + " " + f.typ.String() + "\n")
		for _, s := range f.samples {
			b.WriteString(sampleLine(f.name, s))
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

// sampleLine is `name{a="x",b="y"} value`.
func sampleLine(name string, s sample) string {
	var b strings.Builder
	b.WriteString(name + s.suffix)
	if len(s.labels) > 0 {
		b.WriteByte('{')
		for i, l := range s.labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.name + `="` + escapeLabelValue(l.value) + `"`)
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatValue(s.value))
	return b.String()
}

// formatValue writes a float as the text format does, with Inf and NaN spelled its way.
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string       { return helpEscaper.Replace(s) }
func escapeLabelValue(s string) string { return labelEscaper.Replace(s) }
