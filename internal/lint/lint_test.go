package lint

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// banned lists the members of one imported package that a rule refuses.
type banned struct {
	pkg   string   // import path, e.g. "math/big"
	names []string // exported members, e.g. "NewFloat"
}

// rule is one house rule. It applies to the files for which applies returns
// true, given their slash-separated path relative to the module root.
type rule struct {
	name    string
	why     string // appended to every violation
	applies func(rel string) bool
	banned  []banned
	floats  bool // also refuse float32/float64 and fractional float literals
}

// under reports whether the module-relative path rel lies in directory dir.
func under(rel, dir string) bool { return strings.HasPrefix(rel, dir+"/") }

var rules = []rule{
	{
		name:    "WallClock",
		why:     "only internal/clock reads wall time; take the time from it",
		applies: func(rel string) bool { return !under(rel, "internal/clock") },
		banned:  []banned{{"time", []string{"Now", "Since", "Until"}}},
	},
	{
		name:    "Exit",
		why:     "only cmd/ ends the process; return an error",
		applies: func(rel string) bool { return !under(rel, "cmd") },
		banned: []banned{
			{"os", []string{"Exit"}},
			{"log", []string{"Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Panicln"}},
		},
	},
	{
		name: "NoFloat",
		why:  "prices and quantities are strings, copied verbatim; no floats here",
		applies: func(rel string) bool {
			return under(rel, "internal/fixmap") || under(rel, "internal/chain")
		},
		banned: []banned{
			{"strconv", []string{"ParseFloat", "FormatFloat", "AppendFloat"}},
			{"math", []string{"Float32bits", "Float32frombits", "Float64bits", "Float64frombits"}},
			{"math/big", []string{"Float", "NewFloat", "ParseFloat"}},
		},
		floats: true,
	},
}

// importNames returns the names under which f imports the package path, and
// whether f dot-imports it. The default name is the last path element, which
// holds for the standard-library packages the rules watch.
func importNames(f *ast.File, pkg string) (names []string, dot bool) {
	for _, is := range f.Imports {
		p, err := strconv.Unquote(is.Path.Value)
		if err != nil || p != pkg {
			continue
		}
		switch {
		case is.Name == nil:
			names = append(names, path.Base(p))
		case is.Name.Name == ".":
			dot = true
		case is.Name.Name != "_":
			names = append(names, is.Name.Name)
		}
	}
	return names, dot
}

// check returns the violations of r in f, one "file:line:col: message" each.
// The caller decides whether r applies to the file.
func check(r rule, fset *token.FileSet, f *ast.File) []string {
	var out []string
	report := func(pos token.Pos, format string, args ...any) {
		out = append(out, fset.Position(pos).String()+": "+r.name+": "+
			fmt.Sprintf(format, args...)+" ("+r.why+")")
	}

	// Local names of each watched package: name -> banned members.
	watched := map[string]banned{}
	for _, b := range r.banned {
		names, dot := importNames(f, b.pkg)
		if dot {
			report(f.Package, "dot import of %q hides its uses from this lint", b.pkg)
		}
		for _, n := range names {
			watched[n] = b
		}
	}

	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			id, ok := n.X.(*ast.Ident)
			// An identifier that resolves to a declaration in this file (a
			// local variable shadowing the package name) has a non-nil Obj;
			// a package name never does. Type checking would be exact, but
			// would need the module's dependencies; this is exact enough.
			if !ok || id.Obj != nil {
				return true
			}
			if b, ok := watched[id.Name]; ok && slices.Contains(b.names, n.Sel.Name) {
				report(n.Pos(), "%s.%s", b.pkg, n.Sel.Name)
			}
		case *ast.Ident:
			// Predeclared types resolve to nothing in the file (Obj == nil).
			if r.floats && n.Obj == nil && (n.Name == "float32" || n.Name == "float64") {
				report(n.Pos(), "%s", n.Name)
			}
		case *ast.BasicLit:
			if r.floats && n.Kind == token.FLOAT {
				// 1e9 is an integer constant spelled as a float; 1.5 is not.
				v := constant.MakeFromLiteral(n.Value, n.Kind, 0)
				if constant.ToInt(v).Kind() != constant.Int {
					report(n.Pos(), "fractional float literal %s", n.Value)
				}
			}
		}
		return true
	})
	return out
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("lint: no go.mod above the working directory")
		}
		dir = parent
	}
}

type sourceFile struct {
	rel string // slash-separated, relative to the module root
	f   *ast.File
}

// parseModule parses every non-test .go file of the module rooted at root,
// skipping testdata, vendor, hidden and underscore directories (as the go
// tool does) and nested modules.
func parseModule(t *testing.T, fset *token.FileSet, root string) []sourceFile {
	t.Helper()
	var files []sourceFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p == root {
				return nil
			}
			if name == "testdata" || name == "vendor" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
			strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, filepath.ToSlash(rel), src, 0)
		if err != nil {
			return err // a syntax error already carries file:line
		}
		files = append(files, sourceFile{filepath.ToSlash(rel), f})
		return nil
	})
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	return files
}

func TestLint(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := parseModule(t, fset, root)
	if len(files) == 0 {
		t.Fatal("lint: found no Go files; is the module root right?")
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for _, sf := range files {
				if !r.applies(sf.rel) {
					continue
				}
				for _, v := range check(r, fset, sf.f) {
					t.Error(v)
				}
			}
		})
	}
}

// TestRulesFire runs each rule on small in-memory sources, so a rule that
// stopped matching anything shows up here rather than passing silently.
func TestRulesFire(t *testing.T) {
	ruleNamed := func(name string) rule {
		for _, r := range rules {
			if r.name == name {
				return r
			}
		}
		t.Fatalf("no rule %q", name)
		return rule{}
	}
	cases := []struct {
		rule, rel, src string
		want           []string // substrings, one per expected violation, in order
	}{
		// WallClock.
		{"WallClock", "internal/tap/a.go", `package p; import "time"; var _ = time.Now()`, []string{"time.Now"}},
		{"WallClock", "internal/tap/a.go", `package p; import t "time"; func f() { t.Now() }`, []string{"time.Now"}},
		{"WallClock", "internal/seal/a.go", `package p; import "time"; var s, u = time.Since, time.Until`, []string{"time.Since", "time.Until"}},
		{"WallClock", "internal/seal/a.go", `package p; import . "time"; var _ = Now()`, []string{"dot import"}},
		{"WallClock", "internal/clock/a.go", `package p; import "time"; var _ = time.Now()`, nil},
		{"WallClock", "internal/tap/a.go", `package p; import "time"; var _ = time.Second; var _ time.Time`, nil},
		{"WallClock", "internal/tap/a.go", `package p; func f() { time := struct{ Now func() }{}; time.Now() }`, nil},
		{"WallClock", "internal/tap/a.go", `package p; import "time"; func f() { var time struct{ Now func() }; time.Now() }`, nil},
		// Exit.
		{"Exit", "internal/chain/a.go", `package p; import "os"; func f() { os.Exit(1) }`, []string{"os.Exit"}},
		{"Exit", "internal/chain/a.go", `package p; import l "log"; func f() { l.Fatalf("x"); l.Panicln() }`, []string{"log.Fatalf", "log.Panicln"}},
		{"Exit", "internal/chain/a.go", `package p; import "log"; func f() { log.Printf("x") }`, nil},
		{"Exit", "cmd/fixtap/main.go", `package main; import ("log"; "os"); func main() { log.Fatal(); os.Exit(2) }`, nil},
		// NoFloat.
		{"NoFloat", "internal/fixmap/a.go", `package p; var px float64`, []string{"float64"}},
		{"NoFloat", "internal/chain/a.go", `package p; func f(x any) bool { _, ok := x.(float32); return ok }`, []string{"float32"}},
		{"NoFloat", "internal/fixmap/a.go", `package p; import "strconv"; func f(s string) { strconv.ParseFloat(s, 64) }`, []string{"strconv.ParseFloat"}},
		{"NoFloat", "internal/fixmap/a.go", `package p; import sc "strconv"; var _ = sc.FormatFloat`, []string{"strconv.FormatFloat"}},
		{"NoFloat", "internal/fixmap/a.go", `package p; import "math/big"; var _ = big.NewFloat`, []string{"math/big.NewFloat"}},
		{"NoFloat", "internal/chain/a.go", `package p; var x = 1.5`, []string{"1.5"}},
		{"NoFloat", "internal/chain/a.go", `package p; import "strconv"; const ns = 1e9; var _, _ = strconv.Atoi("1")`, nil},
		{"NoFloat", "internal/jcs/a.go", `package p; import "strconv"; var _ = strconv.FormatFloat(1.5, 'g', -1, 64)`, nil},
		{"NoFloat", "internal/tap/a.go", `package p; var px float64`, nil},
	}
	for _, c := range cases {
		r := ruleNamed(c.rule)
		var got []string
		if r.applies(c.rel) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, c.rel, c.src, 0)
			if err != nil {
				t.Fatalf("%s: %v", c.src, err)
			}
			got = check(r, fset, f)
		}
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], c.want[i]) && strings.HasPrefix(got[i], c.rel+":1:")
		}
		if !ok {
			t.Errorf("%s on %s\n\t%s\ngot  %q\nwant %q", c.rule, c.rel, c.src, got, c.want)
		}
	}
}
