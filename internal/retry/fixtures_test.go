package retry

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fixture is one real error from testdata/classify: what a tool printed or a module returned,
// where its wording comes from, and the class it must get.
type fixture struct {
	file, name string
	line       int
	class      ErrorType
	failure    Failure
	sources    int
}

// readFixtures parses testdata/classify/*.txt (the format is in README.md there).
func readFixtures(t *testing.T) []fixture {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "classify", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/classify: %v", err)
	}
	var all []fixture
	for _, path := range files {
		fs, err := parseFixtures(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 0 {
			t.Errorf("%s holds no fixture", path)
		}
		all = append(all, fs...)
	}
	return all
}

func parseFixtures(path string) ([]fixture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out  []fixture
		cur  *fixture
		text = map[string][]string{}
		n    int
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		join := func(k string) string { return strings.Join(text[k], "\n") }
		cur.failure.Message, cur.failure.Stderr, cur.failure.Stdout = join("message"), join("stderr"), join("stdout")
		if e := join("error"); e != "" {
			cur.failure.Err = errors.New(e)
		}
		if cur.name == "" || cur.class == "" || cur.sources == 0 {
			return fmt.Errorf("%s:%d: a fixture needs name, class and at least one source", path, cur.line)
		}
		if cur.failure.Summary() == "failed without details" {
			return fmt.Errorf("%s:%d: fixture %q has no text, exit code or status", path, cur.line, cur.name)
		}
		out = append(out, *cur)
		cur, text = nil, map[string][]string{}
		return nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if strings.HasPrefix(line, "#") && cur == nil {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key: value, got %q", path, n, line)
		}
		value = strings.TrimPrefix(value, " ")
		if cur == nil {
			cur = &fixture{file: filepath.Base(path), line: n}
		}
		switch key {
		case "name":
			cur.name = value
		case "class":
			cur.class = ErrorType(value)
			if !cur.class.Known() || cur.class.Reserved() {
				return nil, fmt.Errorf("%s:%d: unknown class %q", path, n, value)
			}
		case "message", "error", "stderr", "stdout":
			text[key] = append(text[key], value)
		case "exit":
			code, err := strconv.Atoi(value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: exit: %v", path, n, err)
			}
			cur.failure.ExitCode = &code
		case "status":
			code, err := strconv.Atoi(value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: status: %v", path, n, err)
			}
			cur.failure.HTTPStatus = code
		case "source":
			if !strings.Contains(value, " | ") {
				return nil, fmt.Errorf("%s:%d: a source is <repository> <path>:<line> | <quote>", path, n)
			}
			cur.sources++
		case "captured", "note":
		default:
			return nil, fmt.Errorf("%s:%d: unknown key %q", path, n, key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, flush()
}

// TestClassifyFixtures classifies every real error of testdata/classify with the built-in rules.
func TestClassifyFixtures(t *testing.T) {
	t.Parallel()
	fixtures := readFixtures(t)
	seen := map[string]bool{}
	for _, fx := range fixtures {
		if seen[fx.name] {
			t.Errorf("%s:%d: fixture name %q is used twice", fx.file, fx.line, fx.name)
		}
		seen[fx.name] = true
		t.Run(strings.TrimSuffix(fx.file, ".txt")+"/"+fx.name, func(t *testing.T) {
			t.Parallel()
			got, ev := (*Classifier)(nil).Classify(fx.failure)
			if got != fx.class {
				t.Errorf("%s:%d: Classify() = %s (evidence %+v), want %s", fx.file, fx.line, got, ev, fx.class)
			}
		})
	}
}

// TestClassifyFixturesCoverEveryClass keeps the fixtures honest about what the rules promise: each
// class a built-in rule can give has at least one real error behind it.
func TestClassifyFixturesCoverEveryClass(t *testing.T) {
	t.Parallel()
	have := map[ErrorType]bool{}
	for _, fx := range readFixtures(t) {
		have[fx.class] = true
	}
	for _, want := range slices.Concat(DefaultRetryConditions(), nonRetryableTypes) {
		if !have[want] {
			t.Errorf("no fixture of class %s", want)
		}
	}
}
