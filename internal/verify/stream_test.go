package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fixtap/fixtap/internal/verify"
)

// TestEventStream runs the event stream's machinery — blocks read ahead
// and recycled, workers, the file hasher, the in-order collector — on a
// bundle of a dozen read blocks with one line three blocks long, in a full
// pass and in hashes-only passes with 1, 2 and 4 workers: the untouched bundle
// verifies, and each mutation of events.jsonl is caught, naming the event
// by seq and EventID (in a hashes-only pass the collector reads the
// EventID only then).
func TestEventStream(t *testing.T) {
	const n, long = 12000, 7000
	s := writeSynth(t, t.TempDir(), n, synthConfig{Checkpoints: []int{5000, 9000, n}, Padding: map[int]int{long: 3 << 20}})
	orig := readEventLines(t, s.dir)
	idOf := func(i int) string {
		var e struct{ Header struct{ EventID string } }
		if err := json.Unmarshal(orig[i], &e); err != nil || e.Header.EventID == "" {
			t.Fatalf("line %d: %v", i, err)
		}
		return e.Header.EventID
	}
	type mode struct {
		name string
		opts verify.Options
	}
	modes := []mode{{"full", verify.Options{EventKeys: []ed25519.PublicKey{s.pub}}}}
	for _, w := range []int{1, 2, 4} {
		modes = append(modes, mode{"hashes-only/" + string(rune('0'+w)), verify.Options{EventKeys: []ed25519.PublicKey{s.pub}, Workers: w, HashesOnly: true}})
	}
	for _, m := range modes {
		t.Run("untouched/"+m.name, func(t *testing.T) {
			rep, err := verify.Verify(os.DirFS(s.dir), m.opts)
			if err != nil || rep.FailureCount != 0 || rep.Events != n || rep.OK == m.opts.HashesOnly {
				t.Fatalf("%v, %d events, OK %v: %+v", err, rep.Events, rep.OK, rep.Failures)
			}
			if want := map[bool]uint64{true: 0, false: n}[m.opts.HashesOnly]; rep.Signatures != want {
				t.Errorf("%d signatures checked, want %d", rep.Signatures, want)
			}
		})
	}

	const k = 8000 // in a block after the long line
	for _, tc := range []struct {
		name         string
		edit         func(lines [][]byte) [][]byte
		reseal       bool // rewrite and re-sign the manifest to match
		layer, check string
		seq          int    // -1: no event
		id           string // "" : none required
		detail       string // a substring of the failure's detail
	}{
		{"payload byte", func(l [][]byte) [][]byte {
			l[k] = bytes.Replace(l[k], []byte(`"MaxErrorNs":"250000"`), []byte(`"MaxErrorNs":"250001"`), 1)
			return l
		}, true, "event", "EventHash", k, idOf(k), "recomputed"},
		{"payload byte of the long line", func(l [][]byte) [][]byte {
			l[long] = bytes.Replace(l[long], []byte(`"MaxErrorNs":"250000"`), []byte(`"MaxErrorNs":"250001"`), 1)
			return l
		}, true, "event", "EventHash", long, idOf(long), "recomputed"},
		{"events swapped", func(l [][]byte) [][]byte {
			l[k], l[k+1] = l[k+1], l[k]
			return l
		}, true, "event", "order", k, idOf(k), "out of order"},
		{"event deleted", func(l [][]byte) [][]byte {
			return slices.Delete(l, k, k+1)
		}, true, "event", "missing", k + 1, idOf(k + 1), "missing"},
		{"PrevHash", func(l [][]byte) [][]byte {
			l[k] = replaceMember(t, l[k], "PrevHash", strings.Repeat("ab", 32))
			return l
		}, true, "event", "PrevHash", k, idOf(k), "is not the EventHash"},
		{"MerkleRoot", func(l [][]byte) [][]byte {
			l[k] = replaceMember(t, l[k], "MerkleRoot", strings.Repeat("cd", 32))
			return l
		}, true, "tree", "MerkleRoot", k, idOf(k), "Security.MerkleRoot"},
		{"a byte no hash covers, manifest not resealed", func(l [][]byte) [][]byte {
			l[k] = replaceMember(t, l[k], "AnchorReference", "x") // not in the EventHash, nor (in a hashes-only pass) checked
			return l
		}, false, "bundle", "file", -1, "", "events.jsonl: SHA-256"},
		{"no final newline", func(l [][]byte) [][]byte {
			l[n-1] = bytes.TrimSuffix(l[n-1], []byte("\n"))
			return l
		}, true, "bundle", "file", -1, "", "not newline-terminated"},
		{"unparseable line", func(l [][]byte) [][]byte {
			l[k] = []byte(`{"Header":{"EventID":"x"},"Payload":{` + "\n")
			return l
		}, true, "event", "parse", -1, "", "line 8001"},
	} {
		dir := filepath.Join(t.TempDir(), "bundle")
		if err := os.CopyFS(dir, os.DirFS(s.dir)); err != nil {
			t.Fatal(err)
		}
		lines := tc.edit(slices.Clone(orig))
		if err := os.WriteFile(filepath.Join(dir, verify.EventsFile), bytes.Join(lines, nil), 0o644); err != nil {
			t.Fatal(err)
		}
		if tc.reseal {
			c := *s
			c.dir = dir
			c.writeManifest(t, c.manifest(t))
		}
		for _, m := range modes {
			t.Run(tc.name+"/"+m.name, func(t *testing.T) {
				rep, err := verify.Verify(os.DirFS(dir), m.opts)
				if !errors.Is(err, verify.ErrFailed) || rep.OK {
					t.Fatalf("a mutated bundle verified: %v", err)
				}
				var got []string
				for _, f := range rep.Failures {
					if f.Layer == tc.layer && f.Check == tc.check && strings.Contains(f.Detail, tc.detail) &&
						(tc.seq < 0 || f.Seq != nil && *f.Seq == uint64(tc.seq)) && f.EventID == tc.id {
						return
					}
					got = append(got, f.Error())
				}
				t.Fatalf("want %s/%s seq %d (EventID %q) %q; got:\n%s", tc.layer, tc.check, tc.seq, tc.id, tc.detail, strings.Join(got, "\n"))
			})
		}
	}
}

// readEventLines returns events.jsonl's lines, each with its newline.
func readEventLines(t *testing.T, dir string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, verify.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))[:bytes.Count(b, []byte("\n"))]
}

// replaceMember sets a Security string member of an event line (adding
// it if absent), keeping the members in canonical order.
func replaceMember(t *testing.T, line []byte, name, value string) []byte {
	t.Helper()
	i := bytes.Index(line, []byte(`,"Security":`))
	var sec map[string]any
	d := json.NewDecoder(bytes.NewReader(bytes.TrimSuffix(bytes.TrimSuffix(line[i+len(`,"Security":`):], []byte("\n")), []byte("}"))))
	d.UseNumber()
	if err := d.Decode(&sec); err != nil {
		t.Fatal(err)
	}
	sec[name] = value
	b, _ := json.Marshal(sec) // sorted keys; these values need no escaping
	return append(append(append(slices.Clone(line[:i]), `,"Security":`...), b...), "}\n"...)
}
