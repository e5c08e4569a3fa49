// Package codebase holds tests about the code itself: how long its functions are, which package
// may import which, and that the modules' adapters read only the parameters their specs declare.
package codebase

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// root is the repository, from this package's directory.
const root = "../.."

// MaxFunctionLines bounds every function and function literal of the code that is not a test.
const MaxFunctionLines = 80

// TestFunctionsAreShort parses every Go file of the repository that is not a test (nor test
// data) and fails on each function or function literal longer than MaxFunctionLines lines,
// naming it.
func TestFunctionsAreShort(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || name == "build" || name == "dist" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			name := "a function literal"
			switch fn := n.(type) {
			case *ast.FuncDecl:
				if fn.Body == nil {
					return true
				}
				name = fn.Name.Name
				if fn.Recv != nil && len(fn.Recv.List) == 1 {
					name = recvName(fn.Recv.List[0].Type) + "." + name
				}
			case *ast.FuncLit:
			default:
				return true
			}
			start, end := fset.Position(n.Pos()), fset.Position(n.End())
			if lines := end.Line - start.Line + 1; lines > MaxFunctionLines {
				rel, _ := filepath.Rel(root, start.Filename)
				t.Errorf("%s:%d: %s is %d lines long, more than %d: split it", rel, start.Line, name, lines, MaxFunctionLines)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("read %d Go files: is %s the repository?", files, root)
	}
}

func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return "(*" + recvName(t.X) + ")"
	case *ast.Ident:
		return t.Name
	case *ast.IndexExpr:
		return recvName(t.X)
	}
	return "?"
}

// The retry_manager core takes typed requests: it depends neither on the module runtime nor on
// its Ansible adapter, and the retry_backoff command line needs neither either.
func TestCoreDoesNotImportTheModuleRuntime(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"resilience.ops/internal/manager", "resilience.ops/internal/retrybackoff"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "resilience.ops/internal/module" || dep == "resilience.ops/internal/retrymod" {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}

// paramReaders are the methods of module.Params that read a parameter by its name.
var paramReaders = map[string]bool{"Has": true, "Str": true, "Int": true, "Float": true, "Bool": true,
	"Strings": true, "List": true, "Dict": true}

// Every parameter name that a module's adapter reads (p.Str("max_attempts") and the other readers of
// module.Params) is declared in one of the adapter's specs, so that a misspelt name, which would
// compile and read nothing, fails here instead.
func TestAdaptersReadOnlyDeclaredParameters(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"internal/retrymod", "internal/qosguard", "internal/release", "internal/storeconf"} {
		declared, read := map[string]bool{}, map[string]token.Position{}
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, filepath.Join(root, dir), func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkg := range pkgs {
			for _, f := range pkg.Files {
				ast.Inspect(f, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.KeyValueExpr:
						if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Name" {
							if s, ok := stringLit(n.Value); ok {
								declared[s] = true
							}
						}
					case *ast.CallExpr:
						sel, ok := n.Fun.(*ast.SelectorExpr)
						if ok && paramReaders[sel.Sel.Name] && len(n.Args) == 1 {
							if s, ok := stringLit(n.Args[0]); ok {
								read[s] = fset.Position(n.Pos())
							}
						}
					}
					return true
				})
			}
		}
		if len(declared) < 5 || len(read) < 3 {
			t.Fatalf("%s: found %d declared and %d read parameters: does the test still see the spec?", dir, len(declared), len(read))
		}
		for name, pos := range read {
			if !declared[name] && !storeconfDeclares(name) {
				rel, _ := filepath.Rel(root, pos.Filename)
				t.Errorf("%s:%d reads parameter %q, which no spec of %s declares", rel, pos.Line, name, dir)
			}
		}
	}
}

// storeconfDeclares reports whether the shared store parameters (package storeconf, appended to
// the guard modules' specs) declare name.
func storeconfDeclares(name string) bool {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, filepath.Join(root, "internal/storeconf"), func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		return false
	}
	found := false
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				if kv, ok := n.(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Name" {
						if s, ok := stringLit(kv.Value); ok && s == name {
							found = true
						}
					}
				}
				return !found
			})
		}
	}
	return found
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
