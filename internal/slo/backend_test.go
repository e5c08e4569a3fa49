package slo

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Each backend lives in one file: no other file of the package treats its source differently
// (compares a source with it, or switches on it). A new backend (Datadog, say) is one new file
// that calls register, plus its module parameters in package release and their documentation.
func TestEachBackendIsOneFile(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	isSource := func(e ast.Expr) (string, bool) {
		id, ok := e.(*ast.Ident)
		if !ok {
			return "", false
		}
		return id.Name, strings.HasPrefix(id.Name, "Source") && id.Name != "Source" && id.Name != "Sources"
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var operands []ast.Expr
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op == token.EQL || n.Op == token.NEQ {
					operands = []ast.Expr{n.X, n.Y}
				}
			case *ast.CaseClause:
				operands = n.List
			}
			for _, e := range operands {
				if src, ok := isSource(e); ok {
					t.Errorf("%s: %s treats %s differently; put what is special about a backend in its backend", name, fset.Position(e.Pos()), src)
				}
			}
			return true
		})
	}
	if got := Sources(); len(got) != 2 || got[0] != SourcePrometheus || got[1] != SourceLoki {
		t.Errorf("Sources() = %v", got)
	}
}
