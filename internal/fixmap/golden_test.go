package fixmap

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fixtap/fixtap/internal/chain"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.fix and *.json")

const goldenDir = "testdata/golden"

// goldenView is what a golden .json file holds: the canonical JSON of the
// mapped event parts.
type goldenView struct {
	Type      chain.EventType
	Symbol    string
	AccountID string
	Payload   chain.Payload
	Keys      OrderKeys
}

// TestGoldenInputs checks that every mapCase has its .fix file and that the
// file is what buildFIX makes (correct BodyLength and CheckSum); -update
// writes them.
func TestGoldenInputs(t *testing.T) {
	for _, c := range mapCases {
		want := toPipe(buildFIX(c.begin, c.fields...))
		path := filepath.Join(goldenDir, c.name+".fix")
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/fixmap -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from buildFIX output (run -update)\n got %s\nwant %s", path, got, want)
		}
	}
}

// TestGolden maps every testdata/golden/*.fix, parsed strictly, and compares
// the canonical JSON with the .json beside it.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.fix"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(mapCases) {
		t.Fatalf("%d golden inputs, want at least %d (run -update)", len(files), len(mapCases))
	}
	cfg := testConfig()
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".fix")
		t.Run(name, func(t *testing.T) {
			txt, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			raw := fromPipe(txt)
			m := mustParse(t, raw)
			got, err := cfg.Map(m, raw, testSession)
			if err != nil {
				t.Fatal(err)
			}
			out, err := chain.AppendCanonical(nil, goldenView{got.Type, got.Symbol, got.AccountID, got.Payload, got.Keys})
			if err != nil {
				t.Fatal(err)
			}
			jpath := filepath.Join(goldenDir, name+".json")
			if *update {
				if err := os.WriteFile(jpath, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(jpath)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/fixmap -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("mapping changed (run -update and review the diff)\n got %s\nwant %s", out, want)
			}
		})
	}
}
