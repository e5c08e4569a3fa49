package export

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Each type of external system lives in one file: the file that registers it is the only one that
// names its type constant, so a new type (PagerDuty, say) is one new file that calls register,
// plus its documentation (see TestDocsNameEverySystemType in package retrymod).
func TestEachTypeIsOneFile(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	registeredIn := map[string]string{} // type constant -> the file that registers it
	uses := map[string][]string{}       // type constant -> files that name it
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Type" {
					if v, ok := n.Value.(*ast.Ident); ok && strings.HasPrefix(v.Name, "Type") {
						registeredIn[v.Name] = name
					}
				}
			case *ast.Ident:
				if strings.HasPrefix(n.Name, "Type") && n.Name != "Type" && n.Name != "Types" {
					uses[n.Name] = append(uses[n.Name], name)
				}
			}
			return true
		})
	}
	if len(registeredIn) != len(Types()) {
		t.Fatalf("registered in files: %v; Types() = %v", registeredIn, Types())
	}
	for constName, file := range registeredIn {
		for _, f := range uses[constName] {
			if f != file {
				t.Errorf("%s is registered in %s but named in %s too: a type's code belongs in its own file", constName, file, f)
			}
		}
	}
}

// The registry keeps the order of messages and the inference rules of the types.
func TestRegistry(t *testing.T) {
	t.Parallel()
	want := []Type{TypeRemoteWrite, TypePushgateway, TypeTextfile, TypeSlack, TypeDatadog, TypeWebhook}
	got := Types()
	if len(got) != len(want) {
		t.Fatalf("Types() = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Types() = %v, want %v", got, want)
			break
		}
	}
	for _, k := range kinds {
		if k.parse == nil || k.plan == nil || len(k.Events) == 0 || len(k.DefaultEvents) == 0 || (k.InferRank > 0) != (k.Infer != nil) {
			t.Errorf("kind %s is incomplete: %+v", k.Type, k)
		}
	}
}
