package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// cmdContentionSummary reads the jitter tables that contention_sim wrote and adds an
// at-a-glance bullet for the largest client count: total calls and time to finish per mode.
func cmdContentionSummary(args []string, stdout, stderr io.Writer) error {
	fs, summary := newFlags("contention-summary", stderr)
	md := fs.String("md", "bench/out/contention.md", "contention_sim's markdown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*md)
	if err != nil {
		return err
	}
	defer f.Close()
	var tables [][][]string // tables, rows, cells
	var header []string
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			in = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case !in:
			in, header = true, cells
			tables = append(tables, nil)
		case strings.HasPrefix(cells[0], "---"):
		default:
			tables[len(tables)-1] = append(tables[len(tables)-1], cells)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(tables) < 2 || len(header) < 2 {
		return fmt.Errorf("%s: want the calls and the completion tables", *md)
	}
	last := len(header) - 1
	var parts []string
	fewest, soonest := "", ""
	var minCalls int
	var minTime time.Duration
	for i, row := range tables[0] {
		if i >= len(tables[1]) || len(row) <= last || len(tables[1][i]) <= last {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s calls in %s", row[0], row[last], tables[1][i][last]))
		calls, err1 := strconv.Atoi(row[last])
		took, err2 := time.ParseDuration(tables[1][i][last])
		if err1 != nil || err2 != nil {
			continue
		}
		if fewest == "" || calls < minCalls {
			fewest, minCalls = row[0], calls
		}
		if soonest == "" || took < minTime {
			soonest, minTime = row[0], took
		}
	}
	fmt.Fprintf(stdout, "At %s: %s. Fewest calls: %s; soonest done: %s.\n\n", header[last], strings.Join(parts, "; "), fewest, soonest)
	return addSummary(*summary, fmt.Sprintf("Contention (the AWS jitter experiment, simulated with the engine's own delay code), %s: %s. Fewest calls: %s; soonest done: %s.",
		header[last], strings.Join(parts, "; "), fewest, soonest))
}
