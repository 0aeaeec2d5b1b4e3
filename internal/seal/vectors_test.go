package seal

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
)

// vectors is the "merkle" section of testdata/vcp-derived-vectors.json
// (provenance: testdata/PROVENANCE.md).
type vectors struct {
	Merkle struct {
		LeafDefinition string   `json:"leaf_definition"`
		Leaves         []string `json:"leaves"`
		Roots          map[string]struct {
			RFC6962 string `json:"rfc6962"`
		} `json:"roots"`
		AuditPathsN5 struct {
			RFC6962 map[string][]struct {
				Hash     string `json:"hash"`
				Position string `json:"position"`
			} `json:"rfc6962"`
		} `json:"audit_paths_n5"`
	} `json:"merkle"`
}

func loadVectors(t *testing.T) *vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vcp-derived-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// TestVectors reproduces the RFC 6962 roots for n = 0..8 and the audit
// paths for n = 5 of the shared vectors, from hashes stored in Pebble, and
// checks the paths with the independent transparency-dev verifier.
func TestVectors(t *testing.T) {
	v := loadVectors(t)
	m := &v.Merkle
	// The vectors' leaves are EventHashes; the Merkle leaf is
	// SHA256(0x00 ‖ raw32(EventHash)), as in the profile.
	if !strings.Contains(m.LeafDefinition, "Merkle leaf = SHA256(0x00 || raw32(EventHash_i))") {
		t.Fatalf("leaf_definition changed: %q", m.LeafDefinition)
	}
	if len(m.Leaves) != 8 || len(m.Roots) != 9 {
		t.Fatalf("%d leaves, %d roots: want 8, 9", len(m.Leaves), len(m.Roots))
	}
	leaves := make([]tlog.Hash, len(m.Leaves))
	for i, s := range m.Leaves {
		eh, err := chain.ParseHash(s)
		if err != nil {
			t.Fatal(err)
		}
		// EventHash_i = SHA256("event-i"): the vectors' own definition.
		if want := LeafHash(eh); string(rfc6962.DefaultHasher.HashLeaf(eh[:])) != string(want[:]) {
			t.Fatalf("leaf %d: LeafHash disagrees with rfc6962.HashLeaf", i)
		}
		leaves[i] = LeafHash(eh)
	}
	db := openDB(t)
	s := storeLeaves(t, db, 0, leaves, 3) // batches of 3: rounds straddle subtrees
	for n := 0; n <= 8; n++ {
		got, err := s.TreeHash(uint64(n))
		if err != nil {
			t.Fatal(err)
		}
		if want := m.Roots[strconv.Itoa(n)].RFC6962; hex.EncodeToString(got[:]) != want {
			t.Errorf("root(%d) = %x, want %s", n, got[:], want)
		}
	}
	paths := m.AuditPathsN5.RFC6962
	if len(paths) != 5 {
		t.Fatalf("%d audit paths for n=5, want 5", len(paths))
	}
	root5, _ := s.TreeHash(5)
	for i := range 5 {
		p, err := s.InclusionProof(uint64(i), 5)
		if err != nil {
			t.Fatal(err)
		}
		want := paths[strconv.Itoa(i)]
		if len(p) != len(want) {
			t.Fatalf("path %d: %d hashes, want %d", i, len(p), len(want))
		}
		for j := range p {
			if hex.EncodeToString(p[j][:]) != want[j].Hash {
				t.Errorf("path %d[%d] = %x, want %s", i, j, p[j][:], want[j].Hash)
			}
			if pos := positions(uint64(i), 5)[j]; want[j].Position != pos {
				t.Errorf("path %d[%d]: position %s, RFC 6962 PATH gives %s", i, j, want[j].Position, pos)
			}
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), 5, leaves[i][:], proofBytes(p), root5[:]); err != nil {
			t.Errorf("VerifyInclusion(%d, 5): %v", i, err)
		}
	}
}

// positions returns, bottom-up, which side each sibling of leaf m's audit
// path in a tree of n leaves is on, by the recursion of RFC 6962 §2.1.1:
// PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k (right), and
// PATH(m−k, D[k:n]) : MTH(D[0:k]) otherwise (left), k the largest power of
// two < n.
func positions(m, n uint64) []string {
	if n <= 1 {
		return nil
	}
	k := uint64(1)
	for k<<1 < n {
		k <<= 1
	}
	if m < k {
		return append(positions(m, k), "right")
	}
	return append(positions(m-k, n-k), "left")
}

func proofBytes(p []tlog.Hash) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i][:]
	}
	return out
}
