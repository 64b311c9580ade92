package soak

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// knownLeakGaps are packages that start goroutines but whose tests do not
// yet all run under goleak.VerifyTestMain, with what is missing. An entry
// here is reported, not failed; a package missing from this list fails
// TestGoleakEverywhere.
var knownLeakGaps = map[string]string{}

// TestGoleakEverywhere walks the module and fails for every package whose
// code or tests start goroutines (a go statement, a WaitGroup.Go, a test
// server) while no test file of it calls goleak.VerifyTestMain (or
// goleak.Find, from a TestMain of its own), unless knownLeakGaps lists it.
func TestGoleakEverywhere(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", root, err)
	}
	type pkgInfo struct {
		starts  []string // why it counts as starting goroutines
		verify  bool     // a test calls goleak.VerifyTestMain (or Find)
		partial bool     // a test calls goleak.VerifyNone
	}
	pkgs := map[string]*pkgInfo{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		p := pkgs[rel]
		if p == nil {
			p = &pkgInfo{}
			pkgs[rel] = p
		}
		test := strings.HasSuffix(path, "_test.go")
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				p.starts = append(p.starts, fset.Position(n.Pos()).String())
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, _ := sel.X.(*ast.Ident)
				switch {
				case x != nil && x.Name == "goleak" && (sel.Sel.Name == "VerifyTestMain" || sel.Sel.Name == "Find") && test:
					// Find is what a TestMain that does more than
					// VerifyTestMain calls after m.Run.
					p.verify = true
				case x != nil && x.Name == "goleak" && sel.Sel.Name == "VerifyNone" && test:
					p.partial = true
				case sel.Sel.Name == "Go" && len(n.Args) == 1:
					p.starts = append(p.starts, fset.Position(n.Pos()).String())
				case x != nil && sel.Sel.Name == "NewServer" && slices.Contains([]string{"httptest", "sdptest", "faradaytest"}, x.Name):
					p.starts = append(p.starts, fset.Position(n.Pos()).String())
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var covered, gaps []string
	for rel, p := range pkgs {
		rel = filepath.ToSlash(rel)
		switch {
		case len(p.starts) == 0:
		case p.verify:
			covered = append(covered, rel)
			if knownLeakGaps[rel] != "" {
				t.Logf("%s is under goleak now: remove it from knownLeakGaps", rel)
			}
		case knownLeakGaps[rel] != "":
			t.Logf("known gap: %s: %s", rel, knownLeakGaps[rel])
			gaps = append(gaps, rel)
		default:
			what := "no test calls goleak"
			if p.partial {
				what = "only goleak.VerifyNone in some tests"
			}
			t.Errorf("%s starts goroutines (first at %s) but %s: add func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }", rel, p.starts[0], what)
		}
	}
	slices.Sort(covered)
	t.Logf("goleak.VerifyTestMain in %d packages: %s; known gaps: %v", len(covered), strings.Join(covered, ", "), gaps)
	if len(covered) == 0 {
		t.Error("no package found under goleak: the walk is broken")
	}
}
