package module

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"resilience.ops/internal/secret"
)

// Masked replaces the value of a secret parameter in invocation.module_args, as ansible-core does.
const Masked = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

// maxArgsSize bounds the argument file that is read: a task's parameters are far smaller.
const maxArgsSize = 16 << 20

// Control holds the `_ansible_*` keys that the runtime uses. Other `_ansible_*` keys are ignored,
// so newer ansible-core versions that add keys keep working.
type Control struct {
	CheckMode      bool   `json:"_ansible_check_mode"`
	Diff           bool   `json:"_ansible_diff"`
	NoLog          bool   `json:"_ansible_no_log"`
	Verbosity      int    `json:"_ansible_verbosity"`
	Version        string `json:"_ansible_version"`
	ModuleName     string `json:"_ansible_module_name"`
	SyslogFacility string `json:"_ansible_syslog_facility"`
}

// Ctx is what a module handler gets: its decoded parameters and the task's control settings.
// It collects warnings and deprecations. Not safe for concurrent use.
type Ctx struct {
	Control
	Params       Params
	warnings     []string
	deprecations []Deprecation
	secrets      *secret.Set
}

// Secrets are the task's secret values in every form a server can echo them (see package
// secret). Code that cuts text short (a response body, an error answer) scrubs it with them first;
// the runtime scrubs the whole result again before it is written.
func (c *Ctx) Secrets() *secret.Set {
	if c.secrets == nil {
		return &secret.Set{}
	}
	return c.secrets
}

// Log writes one message about what the module did to the host's syslog, as Ansible's own modules
// do: tagged ansible-<module>, at LOG_INFO, with the facility ansible passes. Nothing is logged
// when the task is no_log (ansible also sets that for no_target_syslog). Secret parameter values
// are replaced in the message.
func (c *Ctx) Log(format string, a ...any) {
	if c.NoLog {
		return
	}
	msg := c.secrets.String(fmt.Sprintf(format, a...))
	name := c.ModuleName
	if name == "" {
		name = "resilience.ops"
	}
	writeSyslog(c.SyslogFacility, "ansible-"+name, msg)
}

// Warn adds a warning that ansible shows after the task.
func (c *Ctx) Warn(format string, a ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, a...))
}

// Deprecate adds a deprecation notice. Only the keys ansible-core accepts are sent.
func (c *Ctx) Deprecate(d Deprecation) {
	if d.CollectionName == "" {
		d.CollectionName = "resilience.ops"
	}
	c.deprecations = append(c.deprecations, d)
}

// Deprecation is one entry of a result's `deprecations` list.
type Deprecation struct {
	Msg            string `json:"msg"`
	Version        string `json:"version,omitempty"`
	Date           string `json:"date,omitempty"`
	CollectionName string `json:"collection_name,omitempty"`
}

// Diff is shown by `ansible-playbook --diff`.
type Diff struct {
	Before       any    `json:"before"`
	After        any    `json:"after"`
	BeforeHeader string `json:"before_header,omitempty"`
	AfterHeader  string `json:"after_header,omitempty"`
}

// Result is what a handler returns on success.
type Result struct {
	Changed bool
	Msg     string
	Diff    *Diff          // sent only when the task runs with --diff
	Stats   map[string]any // published as AAP artifacts (see Artifacts)
	Data    any            // module-specific return values: a struct or map, flattened into the result
}

// Failure is an error that fails the task and still carries return values.
type Failure struct {
	Msg     string
	Changed bool
	Data    any
	Stats   map[string]any
}

func (f *Failure) Error() string { return f.Msg }

// Failf returns a *Failure with a formatted message and no data.
func Failf(format string, a ...any) *Failure { return &Failure{Msg: fmt.Sprintf(format, a...)} }

// Handler implements a module.
type Handler func(*Ctx) (Result, error)

// Artifacts turns data into the `ansible_stats` value that ansible-core's strategy records as
// custom stats, as ansible.builtin.set_stats does. per_host is false, so AAP keeps them as job
// artifacts and passes them to the next workflow nodes.
func Artifacts(data map[string]any) map[string]any {
	return map[string]any{"data": data, "per_host": false, "aggregate": false}
}

// ModulePrefix starts the name under which ansible-core runs every module it copies to a host.
const ModulePrefix = "AnsiballZ_"

// Stdin is the argument that makes a program named AnsiballZ_<name> read the task's arguments from
// its standard input, and the path ArgsFile returns for that form.
const Stdin = "-"

// ArgsFile returns where the task's arguments are when argv (the program's name and arguments,
// os.Args) is one of the two ways a binary module is run, and ok false for anything else: then argv
// is a command line, whatever files the working directory holds. Both forms need the program's own
// name to start with AnsiballZ_, which an installed tool's never does:
//
//   - "<dir>/AnsiballZ_<name> <dir>/args": ansible-core's ActionBase._execute_module copies the
//     binary into the task's temporary directory as AnsiballZ_<name>, writes the arguments beside it
//     in a file named "args" and runs these two words; async_wrapper runs the same two words, and a
//     user who debugs with ANSIBLE_KEEP_REMOTE_FILES runs them from that directory. The argument must
//     name a file called args in the program's own directory. path is that file.
//   - "<cache>/AnsiballZ_<name> -": the collection's action plugin (plugins/plugin_utils/
//     binary_dispatch.py) runs the copy of the binary that it keeps in the host's module cache with
//     this one argument and writes the arguments, one JSON object, on its standard input (as
//     ansible-core pipelines Python modules). path is Stdin.
func ArgsFile(argv []string) (path string, ok bool) {
	if len(argv) != 2 {
		return "", false
	}
	prog, args := argv[0], argv[1]
	if !strings.HasPrefix(filepath.Base(prog), ModulePrefix) {
		return "", false
	}
	if args == Stdin {
		return Stdin, true
	}
	if filepath.Base(args) != "args" || filepath.Clean(filepath.Dir(prog)) != filepath.Clean(filepath.Dir(args)) {
		return "", false
	}
	return args, true
}

// Run executes h as an Ansible module on the arguments at argsPath (a file, or Stdin for the
// process's standard input: see ArgsFile), writes exactly one JSON object to stdout and returns the
// exit status: 0 on success, 1 on failure. A panic in h becomes a failed result with a one-line
// message; the stack is added only at verbosity 3 or more.
func Run(argsPath string, stdout io.Writer, spec Spec, h Handler) int {
	if argsPath == Stdin {
		return RunReader(os.Stdin, stdout, spec, h)
	}
	return runWith(func() (map[string]any, map[string]any, error) { return readArgs(argsPath) }, stdout, spec, h)
}

// RunReader is Run on arguments read from r, up to its end.
func RunReader(r io.Reader, stdout io.Writer, spec Spec, h Handler) int {
	return runWith(func() (map[string]any, map[string]any, error) { return readArgsFrom(r, "standard input") }, stdout, spec, h)
}

func runWith(read func() (all, user map[string]any, err error), stdout io.Writer, spec Spec, h Handler) int {
	ctx := &Ctx{}
	raw, userArgs, err := read()
	if err != nil {
		return emit(stdout, ctx, spec, nil, map[string]any{"failed": true, "msg": err.Error()})
	}
	ctrl, err := decodeControl(raw)
	ctx.Control = ctrl
	if err != nil { // fail closed: the task is not run (ctrl is in check mode and no_log)
		return emit(stdout, ctx, spec, userArgs, map[string]any{"failed": true, "msg": err.Error()})
	}
	params, err := spec.Decode(userArgs)
	if err != nil {
		return emit(stdout, ctx, spec, userArgs, map[string]any{"failed": true, "msg": err.Error()})
	}
	ctx.Params = params
	ctx.secrets = secretValues(spec, userArgs)
	res, err, stack := call(h, ctx)
	out := map[string]any{}
	switch {
	case stack != nil:
		out["failed"] = true
		out["msg"] = err.Error()
		if ctx.Verbosity >= 3 {
			out["exception"] = string(stack)
		}
	case err != nil:
		var f *Failure
		if errors.As(err, &f) {
			if err := flatten(out, f.Data); err != nil {
				out["msg"] = err.Error()
			}
			if f.Stats != nil {
				out["ansible_stats"] = Artifacts(f.Stats)
			}
			out["changed"] = f.Changed
		}
		out["failed"] = true
		out["msg"] = err.Error()
	default:
		if err := flatten(out, res.Data); err != nil {
			out["failed"] = true
			out["msg"] = err.Error()
			break
		}
		out["changed"] = res.Changed
		if res.Msg != "" {
			out["msg"] = res.Msg
		}
		if res.Diff != nil && ctx.Diff {
			out["diff"] = res.Diff
		}
		if res.Stats != nil {
			out["ansible_stats"] = Artifacts(res.Stats)
		}
	}
	return emit(stdout, ctx, spec, params, out)
}

// call runs h and turns a panic into an error plus the stack.
func call(h Handler, ctx *Ctx) (res Result, err error, stack []byte) {
	defer func() {
		if r := recover(); r != nil {
			msg := strings.SplitN(fmt.Sprint(r), "\n", 2)[0]
			err = fmt.Errorf("internal error in module %s: %s", moduleName(ctx), msg)
			stack = debug.Stack()
		}
	}()
	res, err = h(ctx)
	return res, err, nil
}

func moduleName(ctx *Ctx) string {
	if ctx.ModuleName != "" {
		return ctx.ModuleName
	}
	return "resilience.ops"
}

// readArgs reads and splits the argument file.
func readArgs(path string) (all, user map[string]any, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the argument file: %w", err)
	}
	defer f.Close()
	return readArgsFrom(f, path)
}

// readArgsFrom reads and splits the arguments from r (named name in messages).
func readArgsFrom(r io.Reader, name string) (all, user map[string]any, err error) {
	data, err := io.ReadAll(io.LimitReader(r, maxArgsSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the arguments from %s: %w", name, err)
	}
	return ParseArgs(data)
}

// ParseArgs splits a flat JSON argument object into all keys and the user's parameters (the keys
// that do not start with `_ansible_`).
func ParseArgs(data []byte) (all, user map[string]any, err error) {
	if len(data) > maxArgsSize {
		return nil, nil, fmt.Errorf("the argument file is larger than %d bytes", maxArgsSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, errors.New("the argument file is empty: expected a JSON object of module parameters")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&all); err != nil || all == nil {
		return nil, nil, fmt.Errorf("the argument file is not a JSON object of module parameters (%s)", jsonProblem(err))
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 { // dec.More() misses a stray '}' or ']'
		return nil, nil, errors.New("the argument file holds more than one JSON value or trailing data")
	}
	user = map[string]any{}
	for k, v := range all {
		if !strings.HasPrefix(k, "_ansible_") {
			user[k] = v
		}
	}
	return all, user, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return "null"
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return "found a JSON " + te.Value
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it is truncated"
	}
	return "unreadable JSON"
}

// flatten merges the JSON form of data (a struct or map) into out.
func flatten(out map[string]any, data any) error {
	if data == nil {
		return nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("cannot encode the module result: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("the module result is not a JSON object: %w", err)
	}
	for k, v := range m {
		out[k] = v
	}
	return nil
}

// emit adds the common keys, scrubs secrets and writes the result.
func emit(w io.Writer, ctx *Ctx, spec Spec, args map[string]any, out map[string]any) int {
	if _, ok := out["changed"]; !ok {
		out["changed"] = false
	}
	if len(ctx.warnings) > 0 {
		out["warnings"] = ctx.warnings
	}
	if len(ctx.deprecations) > 0 {
		out["deprecations"] = ctx.deprecations
	}
	secrets := secretValues(spec, args)
	out["invocation"] = map[string]any{"module_args": maskArgs(spec, args)}
	b, err := json.Marshal(secrets.Value(toPlain(out)))
	if err != nil {
		b = []byte(`{"failed": true, "msg": "cannot encode the module result"}`)
		out["failed"] = true
	}
	_, _ = w.Write(append(b, '\n'))
	if failed, _ := out["failed"].(bool); failed {
		return 1
	}
	return 0
}

// toPlain turns any JSON-encodable value into maps, slices and scalars.
func toPlain(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var p any
	if json.Unmarshal(b, &p) != nil {
		return v
	}
	return p
}

// secretParamName guesses whether an unknown key holds a secret, so that a misspelled secret
// parameter is masked too when the arguments are rejected.
func secretParamName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "pasw", "pwd", "token", "secret", "auth", "key", "webhook", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func secretSet(spec Spec) map[string]bool {
	s := map[string]bool{}
	for _, p := range spec {
		if p.Secret {
			s[p.Name] = true
			for _, a := range p.Aliases {
				s[a] = true
			}
		}
	}
	return s
}

func isSecret(secret map[string]bool, spec Spec, key string) bool {
	if secret[key] {
		return true
	}
	for _, p := range spec {
		if p.Name == key || contains(p.Aliases, key) {
			return false // a declared, non-secret parameter
		}
	}
	return secretParamName(key)
}

// secretKeysOf returns the SecretKeys of the parameter named key (or one of its aliases).
func secretKeysOf(spec Spec, key string) []string {
	for _, p := range spec {
		if p.Name == key || contains(p.Aliases, key) {
			return p.SecretKeys
		}
	}
	return nil
}

// plainNames are the names and aliases of the declared parameters that are not secret.
func plainNames(spec Spec) map[string]bool {
	plain := map[string]bool{}
	for _, p := range spec {
		if !p.Secret {
			plain[p.Name] = true
			for _, a := range p.Aliases {
				plain[a] = true
			}
		}
	}
	return plain
}

// nestedSecret reports whether a key of a nested dictionary holds a secret: because the parameter
// declares it in SecretKeys, or by its name, unless it is the name of a declared parameter that is
// not secret (dictionaries such as settings repeat the task's parameters: circuit_key is no key).
func nestedSecret(k string, keys []string, plain map[string]bool) bool {
	return contains(keys, k) || secretParamName(k) && !plain[k]
}

// maskArgs returns args with secret values replaced by Masked. Nested dictionaries are masked by
// key name too (for example the auth_header of an external system), and by the SecretKeys of
// their parameter.
func maskArgs(spec Spec, args map[string]any) map[string]any {
	secret, plain := secretSet(spec), plainNames(spec)
	out := make(map[string]any, len(args))
	for k, v := range args {
		if isSecret(secret, spec, k) && v != nil {
			out[k] = Masked
			continue
		}
		out[k] = maskNested(v, secretKeysOf(spec, k), plain)
	}
	return out
}

func maskNested(v any, keys []string, plain map[string]bool) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			if nestedSecret(k, keys, plain) && e != nil {
				// A dictionary under a secret-looking name is masked key by key, unless the
				// parameter declares the key secret: then all of it is.
				if _, isMap := e.(map[string]any); !isMap || contains(keys, k) {
					m[k] = Masked
					continue
				}
			}
			m[k] = maskNested(e, keys, plain)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = maskNested(e, keys, plain)
		}
		return l
	}
	return v
}

// secretValues collects the string values of secret parameters (also nested ones) and the
// credentials of URLs in any parameter, each in every form a server can echo it.
func secretValues(spec Spec, args map[string]any) *secret.Set {
	secrets, plain := secretSet(spec), plainNames(spec)
	set := &secret.Set{}
	var collect func(v any)
	collect = func(v any) {
		switch t := v.(type) {
		case string:
			set.Add(t) // values shorter than secret.MinLen are left: they would scrub ordinary words
		case []any:
			for _, e := range t {
				collect(e)
			}
		case map[string]any:
			for _, e := range t {
				collect(e)
			}
		}
	}
	var nested func(v any, keys []string)
	nested = func(v any, keys []string) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				if nestedSecret(k, keys, plain) {
					collect(e)
				} else {
					nested(e, keys)
				}
			}
		case []any:
			for _, e := range t {
				nested(e, keys)
			}
		}
	}
	for k, v := range args {
		if isSecret(secrets, spec, k) {
			collect(v)
		} else {
			nested(v, secretKeysOf(spec, k))
		}
	}
	addURLCredentials(set, args)
	return set
}

// addURLCredentials adds the credentials of URLs with a password (https://user:pass@host) found
// in any string parameter, also nested ones. A URL is not a secret parameter, but the password in
// it is, and so is the Basic authentication token made of it.
func addURLCredentials(set *secret.Set, v any) {
	switch t := v.(type) {
	case string:
		if strings.Contains(t, "://") {
			set.AddURL(t)
		}
	case []any:
		for _, e := range t {
			addURLCredentials(set, e)
		}
	case map[string]any:
		for _, e := range t {
			addURLCredentials(set, e)
		}
	}
}
