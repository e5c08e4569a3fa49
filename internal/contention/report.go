package contention

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"resilience.ops/internal/retry"
)

// Modes are the jitter modes compared, in report order.
var Modes = []retry.JitterMode{retry.JitterNone, retry.JitterAdditive, retry.JitterFull, retry.JitterEqual, retry.JitterDecorrelated}

// Point is the median of several seeds for one mode and client count.
type Point struct {
	Mode       retry.JitterMode
	Clients    int
	Calls      int
	Completion time.Duration
}

// Sweep runs every mode for every client count with seeds 1..runs and keeps the medians.
func Sweep(base retry.Policy, work time.Duration, clients []int, runs int) []Point {
	var out []Point
	for _, mode := range Modes {
		p := base
		p.JitterEnabled, p.JitterMode = mode != retry.JitterNone, mode
		for _, n := range clients {
			calls := make([]int, runs)
			times := make([]time.Duration, runs)
			for s := 0; s < runs; s++ {
				r := Run(Model{Clients: n, Work: work, Policy: p, Seed: uint64(s + 1)})
				calls[s], times[s] = r.Calls, r.Completion
			}
			slices.Sort(calls)
			slices.Sort(times)
			out = append(out, Point{Mode: mode, Clients: n, Calls: calls[runs/2], Completion: times[runs/2]})
		}
	}
	return out
}

// Markdown writes the sweep as two tables: total calls, and time until the last client finished.
func Markdown(w io.Writer, pts []Point, clients []int) {
	for _, what := range []string{"calls", "completion"} {
		title := "Total calls (median)"
		if what == "completion" {
			title = "Time until every client has written (median, simulated)"
		}
		fmt.Fprintf(w, "%s:\n\n| jitter | %s |\n|---|%s\n", title, joinInts(clients, " clients | "), strings.Repeat("---:|", len(clients)))
		for _, mode := range Modes {
			fmt.Fprintf(w, "| %s |", mode)
			for _, n := range clients {
				for _, p := range pts {
					if p.Mode == mode && p.Clients == n {
						if what == "calls" {
							fmt.Fprintf(w, " %d |", p.Calls)
						} else {
							fmt.Fprintf(w, " %s |", p.Completion.Round(time.Millisecond))
						}
					}
				}
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
}

func joinInts(xs []int, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, sep) + strings.TrimSuffix(sep, " | ")
}

var colors = map[retry.JitterMode]string{
	retry.JitterNone: "#d62728", retry.JitterAdditive: "#ff7f0e", retry.JitterFull: "#2ca02c",
	retry.JitterEqual: "#1f77b4", retry.JitterDecorrelated: "#9467bd",
}

// SVG draws total calls against clients, one line per mode, on a logarithmic call axis.
func SVG(w io.Writer, pts []Point, clients []int) {
	const width, height, left, bottom, top, right = 640, 400, 70, 50, 30, 150
	maxCalls := 1
	for _, p := range pts {
		maxCalls = max(maxCalls, p.Calls)
	}
	logMax := log10(float64(maxCalls))
	x := func(n int) float64 {
		return left + float64(n-clients[0])/float64(clients[len(clients)-1]-clients[0])*(width-left-right)
	}
	y := func(c int) float64 { return top + (1-log10(float64(c))/logMax)*(height-top-bottom) }
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="18" font-size="14">Total calls by clients and jitter mode (log scale)</text>`+"\n", left)
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n",
		left, height-bottom, width-right, height-bottom, left, top, left, height-bottom)
	for _, n := range clients {
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x(n), height-bottom+18, n)
	}
	for c := 1; c <= maxCalls; c *= 10 {
		fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end">%d</text><line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n",
			left-6, y(c)+4, c, left, y(c), width-right, y(c))
	}
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle">clients</text>`+"\n", (width-right+left)/2, height-10)
	for i, mode := range Modes {
		var coords []string
		for _, p := range pts {
			if p.Mode == mode {
				coords = append(coords, fmt.Sprintf("%.1f,%.1f", x(p.Clients), y(max(p.Calls, 1))))
			}
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", colors[mode], strings.Join(coords, " "))
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			width-right+15, top+i*20, colors[mode], width-right+32, top+i*20+11, mode)
	}
	fmt.Fprintln(w, "</svg>")
}

func log10(f float64) float64 {
	// small helper without importing math for one call site
	l := 0.0
	for f >= 10 {
		f /= 10
		l++
	}
	// linear interpolation within the decade is enough for a chart
	return l + (f-1)/9
}
