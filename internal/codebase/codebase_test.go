// Package codebase holds tests about the code itself: how long its functions are and which
// package may import which.
package codebase

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
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
