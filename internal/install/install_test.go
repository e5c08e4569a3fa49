package install

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// scriptNames are the names of the reference's shell scripts and the tools they now are.
var scriptNames = map[string]string{"retry_backoff.sh": "retry_backoff", "qos_guard.sh": "qos_guard"}

// installed runs `make install` into a temporary DESTDIR (building into a temporary directory,
// not the checkout's build/) and returns the installed sbin directory.
func installed(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed to test make install: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	cmd := exec.Command("make", "-C", root, "--no-print-directory", "install", "DESTDIR="+dest,
		"PREFIX=/usr/local", "HOST_BIN_DIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	return filepath.Join(dest, "usr", "local", "sbin")
}

// run runs bin with args in dir and returns its exit status and output. Durations in retry_backoff's
// log lines ("after 12ms") differ from run to run and are replaced by "after D".
func run(t *testing.T, dir, bin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	default:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return code, out.String(), durations.ReplaceAllString(errOut.String(), "after D")
}

var durations = regexp.MustCompile(`after [0-9.]+(?:ns|µs|ms|s|m[0-9.]+s)`)

// TestInstallScriptNames: make install puts retry_backoff.sh and qos_guard.sh beside the tools, as
// symlinks to them, and a CI job calling either name gets the same exit codes and output.
func TestInstallScriptNames(t *testing.T) {
	sbin := installed(t)
	for script, tool := range scriptNames {
		target, err := os.Readlink(filepath.Join(sbin, script))
		if err != nil || target != tool {
			t.Fatalf("%s links to %q (%v), want the relative link %s", script, target, err, tool)
		}
		if fi, err := os.Stat(filepath.Join(sbin, script)); err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Fatalf("%s is not executable: %v %v", script, fi, err)
		}
	}

	t.Run("retry_backoff", func(t *testing.T) {
		cases := []struct {
			args []string
			want int // the reference's exit codes: 0 on success, 1 on final failure
		}{
			{[]string{"3", "0", "--", "sh", "-c", "echo done"}, 0},
			{[]string{"2", "0", "--", "false"}, 1},
			{[]string{"2", "0", "--", "sh", "-c", "echo try >&2; exit 7"}, 1},
			{[]string{"3", "0"}, 2},               // no -- : a usage error
			{[]string{"x", "0", "--", "true"}, 2}, // not a number
			{[]string{}, 2},
		}
		for _, c := range cases {
			dir := t.TempDir()
			code, out, errOut := run(t, dir, filepath.Join(sbin, "retry_backoff"), nil, c.args...)
			codeSh, outSh, errOutSh := run(t, dir, filepath.Join(sbin, "retry_backoff.sh"), nil, c.args...)
			if code != c.want || codeSh != c.want {
				t.Errorf("retry_backoff %v: exit %d, retry_backoff.sh: exit %d; want %d\n%s", c.args, code, codeSh, c.want, errOutSh)
			}
			if out != outSh || errOut != errOutSh {
				t.Errorf("retry_backoff %v: output differs between the names (-tool +script):\n%s%s", c.args,
					cmp.Diff(out, outSh), cmp.Diff(errOut, errOutSh))
			}
		}
	})

	t.Run("qos_guard", func(t *testing.T) {
		// The same sequence on a fresh guard for each name: status is 1 while locked.
		steps := []struct {
			args []string
			want int
		}{
			{[]string{"status"}, 0},
			{[]string{"lock", "15"}, 0},
			{[]string{"status"}, 1},
			{[]string{"unlock"}, 0},
			{[]string{"status"}, 0},
			{[]string{"frobnicate"}, 2},
		}
		codes := map[string][]int{}
		for _, name := range []string{"qos_guard", "qos_guard.sh"} {
			dir := t.TempDir()
			env := []string{"QOS_GUARD_FILE=" + filepath.Join(dir, "guard")}
			for _, s := range steps {
				code, _, errOut := run(t, dir, filepath.Join(sbin, name), env, s.args...)
				if code != s.want {
					t.Errorf("%s %v: exit %d, want %d: %s", name, s.args, code, s.want, errOut)
				}
				codes[name] = append(codes[name], code)
			}
		}
		if !slices.Equal(codes["qos_guard"], codes["qos_guard.sh"]) {
			t.Errorf("exit codes differ between the names: %v and %v", codes["qos_guard"], codes["qos_guard.sh"])
		}
	})

	// A file named like the command in the job's directory is never read as module arguments,
	// under either name (module.ArgsFile): a pull request that adds ./status to the checkout
	// cannot force-unlock the guard that the job checks.
	t.Run("the command line whatever the directory holds", func(t *testing.T) {
		for _, name := range []string{"qos_guard", "qos_guard.sh"} {
			dir := t.TempDir()
			guard := filepath.Join(dir, "guard")
			env := []string{"QOS_GUARD_FILE=" + guard}
			hostile := `{"path": "` + guard + `", "state": "unlocked", "force": true}`
			if err := os.WriteFile(filepath.Join(dir, "status"), []byte(hostile), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, _, errOut := run(t, dir, filepath.Join(sbin, name), env, "lock", "15"); code != 0 {
				t.Fatalf("%s lock 15: exit %d: %s", name, code, errOut)
			}
			code, out, _ := run(t, dir, filepath.Join(sbin, name), env, "status")
			if code != 1 || !strings.Contains(out, "is locked until") {
				t.Errorf("%s status beside ./status: exit %d %q, want 1 (locked)", name, code, out)
			}
			if _, err := os.Stat(guard); err != nil {
				t.Errorf("%s status beside ./status removed the guard: %v", name, err)
			}
		}
	})
}

// TestCIExamplesUseInstalledNames: every /usr/local/sbin/<name> that the CI examples call is a name
// make install provides, and the examples show both the tools' names and the scripts' names.
func TestCIExamplesUseInstalledNames(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "ci", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CI examples: %v", err)
	}
	provided := map[string]bool{"qos_guard_release": true}
	for script, tool := range scriptNames {
		provided[script], provided[tool] = true, true
	}
	called := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`/usr/local/sbin/([A-Za-z0-9_.]+)`).FindAllSubmatch(b, -1) {
			name := string(m[1])
			called[name] = true
			if !provided[name] {
				t.Errorf("%s calls /usr/local/sbin/%s, which make install does not provide", filepath.Base(f), name)
			}
		}
	}
	for script, tool := range scriptNames {
		if !called[script] || !called[tool] {
			t.Errorf("the CI examples should show both %s and %s (called: %v)", tool, script, called)
		}
	}
}
