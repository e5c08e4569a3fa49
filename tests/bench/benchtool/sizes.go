package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// platforms are the build platforms of the Makefile, in column order.
var platforms = []string{"linux_amd64", "linux_arm64", "windows_amd64"}

// sizeGoals are the size goals of each module (MiB), from the collection's design: ansible
// copies the binary to the target for every task.
var sizeGoals = map[string]float64{"qos_guard": 3, "retry_manager": 4, "qos_guard_release": 12}

// cmdSizes writes the size of each module binary per platform.
func cmdSizes(args []string, stdout, stderr io.Writer) error {
	fs, summary := newFlags("sizes", stderr)
	dir := fs.String("dir", "plugins/modules/__bin", "directory of the per-platform builds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	entries, err := os.ReadDir(*dir)
	if err != nil {
		return err
	}
	sizes := map[string]map[string]int64{}
	var modules []string
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".exe")
		for _, p := range platforms {
			mod, ok := strings.CutSuffix(name, "_"+p)
			if !ok {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			if sizes[mod] == nil {
				sizes[mod] = map[string]int64{}
				modules = append(modules, mod)
			}
			sizes[mod][p] = fi.Size()
		}
	}
	if len(modules) == 0 {
		return fmt.Errorf("no module builds in %s", *dir)
	}
	slices.Sort(modules)
	fmt.Fprintf(stdout, "Static builds (`CGO_ENABLED=0 -trimpath -ldflags='-s -w'`) in `%s`, MiB. Ansible copies the binary to the target for every task, so size is paid per task.\n\n", filepath.ToSlash(*dir))
	fmt.Fprintf(stdout, "| module | %s | goal |\n|---|%s---:|\n", strings.ReplaceAll(strings.Join(platforms, " | "), "_", "/"), strings.Repeat("---:|", len(platforms)))
	var bullets []string
	for _, m := range modules {
		fmt.Fprintf(stdout, "| %s |", m)
		for _, p := range platforms {
			if s, ok := sizes[m][p]; ok {
				fmt.Fprintf(stdout, " %.2f |", float64(s)/(1<<20))
			} else {
				fmt.Fprint(stdout, " – |")
			}
		}
		goal := "–"
		if g, ok := sizeGoals[m]; ok {
			goal = fmt.Sprintf("≤ %.0f", g)
		}
		fmt.Fprintf(stdout, " %s |\n", goal)
		if s, ok := sizes[m]["linux_amd64"]; ok {
			bullets = append(bullets, fmt.Sprintf("%s %.1f MiB", m, float64(s)/(1<<20)))
		}
	}
	fmt.Fprintln(stdout)
	return addSummary(*summary, "Binary size (linux/amd64): "+strings.Join(bullets, ", ")+".")
}
