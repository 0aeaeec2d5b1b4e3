package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is the tlog-tiles tile height: 8 levels, 256 hashes a tile.
const tileHeight = 8

// replicaReader reads one replica's objects during one round, as they are
// at the replica's tree size this round (n). Every tile it returns has the
// width tlog-tiles gives it in a tree of size n; a hash of a smaller tree
// is read from the same tiles (a stored hash never changes once its
// subtree is complete). It is a tlog.HashReader; the hashes it returns are
// NOT authenticated — callers prove them against a signed root
// (authenticate, or tlog.CheckTree).
type replicaReader struct {
	ctx  context.Context
	f    *fetcher
	base string // ends in "/"
	n    int64

	mu    sync.Mutex
	tiles map[tileKey][]byte
}

type tileKey struct {
	L int
	N int64
}

func newReplicaReader(ctx context.Context, f *fetcher, base string, n int64) *replicaReader {
	return &replicaReader{ctx: ctx, f: f, base: base, n: n, tiles: map[tileKey][]byte{}}
}

// widthAt is the width of tile (L, N) in a tree of size n (tlog-tiles
// "Partial Tiles": floor(n / 256**L) mod 256 for the rightmost), 0 if the
// tree has no such tile.
func widthAt(L int, N, n int64) int {
	m := n >> (tileHeight * L) // hashes at this tile level
	if N < m>>tileHeight {
		return 1 << tileHeight
	}
	if w := m - N<<tileHeight; w > 0 && N == m>>tileHeight {
		return int(w)
	}
	return 0
}

// partial is the .p/<W> suffix argument of tessera's layout paths: 0 for
// a full tile.
func partial(w int) uint8 {
	if w == 1<<tileHeight {
		return 0
	}
	return uint8(w)
}

func (r *replicaReader) tilePath(L int, N int64, w int) string {
	return layout.TilePath(uint64(L), uint64(N), partial(w))
}

func (r *replicaReader) url(path string) string { return r.base + path }

// tile returns tile (L, N) at its width in a tree of size n. A partial
// tile that is gone is read from the full tile: tlog-tiles lets a log
// delete a partial tile once the full tile exists, and lets clients fetch
// the full tile instead. Any object of the wrong length is a
// *MismatchError.
func (r *replicaReader) tile(L int, N int64) (tlog.Tile, []byte, error) {
	w := widthAt(L, N, r.n)
	t := tlog.Tile{H: tileHeight, L: L, N: N, W: w}
	if w == 0 {
		return t, nil, fmt.Errorf("monitor: internal error: tile %d/%d is outside a tree of size %d", L, N, r.n)
	}
	k := tileKey{L, N}
	r.mu.Lock()
	data, ok := r.tiles[k]
	r.mu.Unlock()
	if ok {
		return t, data, nil
	}
	data, err := r.getPrefix(r.tilePath(L, N, w), r.tilePath(L, N, 1<<tileHeight), w < 1<<tileHeight, w*tlog.HashSize, maxTile)
	if err != nil {
		return t, nil, err
	}
	r.mu.Lock()
	r.tiles[k] = data
	r.mu.Unlock()
	return t, data, nil
}

// getPrefix reads the object at path, which must be exactly want bytes;
// when isPartial and it is absent (404), it reads the full object at
// fullPath and keeps its first want bytes.
func (r *replicaReader) getPrefix(path, fullPath string, isPartial bool, want int, max int64) ([]byte, error) {
	b, err := r.f.get(r.ctx, r.url(path), max, false)
	var fe *FetchError
	if err != nil && isPartial && errors.As(err, &fe) && fe.NotFound() {
		full, ferr := r.f.get(r.ctx, r.url(fullPath), max, false)
		if ferr != nil {
			return nil, err // the partial object's absence is the evidence
		}
		if len(full) != 1<<tileHeight*tlog.HashSize {
			return nil, &MismatchError{What: "tile length", URL: redactURL(r.url(fullPath)),
				Got: fmt.Sprintf("%d bytes", len(full)), Want: fmt.Sprintf("%d bytes (a full tile)", 1<<tileHeight*tlog.HashSize)}
		}
		return full[:want], nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) != want {
		return nil, &MismatchError{What: "tile length", URL: redactURL(r.url(path)),
			Got: fmt.Sprintf("%d bytes", len(b)), Want: fmt.Sprintf("%d bytes", want)}
	}
	return b, nil
}

// ReadHashes implements tlog.HashReader over the replica's tiles.
func (r *replicaReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		t := tlog.TileForIndex(tileHeight, x)
		t, data, err := r.tile(t.L, t.N)
		if err != nil {
			return nil, err
		}
		if out[i], err = tlog.HashFromTile(t, data, x); err != nil {
			return nil, fmt.Errorf("monitor: hash %d from %s: %w", x, redactURL(r.url(r.tilePath(t.L, t.N, t.W))), err)
		}
	}
	return out, nil
}

// tileRoot is the Merkle tree hash of a full tile's 256 hashes: the hash
// its parent tile holds for it (tlog-tiles "Merkle Tree": each hash at
// level 1 and above is the Merkle Tree Hash of a full tile below).
func tileRoot(data []byte) tlog.Hash {
	hs := make([]tlog.Hash, len(data)/tlog.HashSize)
	for i := range hs {
		copy(hs[i][:], data[i*tlog.HashSize:])
	}
	for len(hs) > 1 {
		for i := 0; i < len(hs)/2; i++ {
			hs[i] = tlog.NodeHash(hs[2*i], hs[2*i+1])
		}
		hs = hs[:len(hs)/2]
	}
	return hs[0]
}

// authenticate proves the level-0 tiles listed (by index), as the replica
// serves them at size n, against the signed root of that tree:
//
//   - the rightmost tiles (every partial tile of the tree, and the
//     ancestors of the last full subtrees) must give the root: tlog.TreeHash
//     reads exactly those, and every hash of a partial tile enters it;
//   - every full tile must hash (tileRoot) to the hash its parent tile
//     holds for it, up to a tile already proven.
//
// A failure is a *MismatchError naming the tile and the expected hash.
func (r *replicaReader) authenticate(root tlog.Hash, level0 []int64) error {
	if r.n == 0 {
		return nil
	}
	th, err := tlog.TreeHash(r.n, r)
	if err != nil {
		return err
	}
	if th != root {
		// Name the tiles the root was computed from.
		var paths []string
		for L := 0; r.n>>(tileHeight*L) > 0; L++ {
			m := r.n >> (tileHeight * L)
			if N := m >> tileHeight; widthAt(L, N, r.n) > 0 {
				paths = append(paths, r.tilePath(L, N, widthAt(L, N, r.n)))
			}
		}
		return &MismatchError{What: "tree hash", URL: redactURL(r.base), Against: "the checkpoint",
			Got: th.String(), Want: root.String(), Detail: fmt.Sprintf("the rightmost tiles %v of size %d", paths, r.n)}
	}
	proven := map[tileKey]bool{}
	for _, N := range level0 {
		L := 0
		for !proven[tileKey{L, N}] {
			t, data, err := r.tile(L, N)
			if err != nil {
				return err
			}
			if t.W < 1<<tileHeight {
				break // partial: proven by the root above
			}
			p, pdata, err := r.tile(L+1, N>>tileHeight)
			if err != nil {
				return err
			}
			got := tileRoot(data)
			var want tlog.Hash
			copy(want[:], pdata[(N%(1<<tileHeight))*tlog.HashSize:])
			if got != want {
				return &MismatchError{What: "tile", URL: redactURL(r.url(r.tilePath(L, N, t.W))),
					Against: redactURL(r.url(r.tilePath(p.L, p.N, p.W))), Got: got.String(), Want: want.String(),
					Detail: fmt.Sprintf("hash %d of the parent tile", N%(1<<tileHeight))}
			}
			proven[tileKey{L, N}] = true
			L, N = L+1, N>>tileHeight
		}
	}
	return nil
}

// consistent proves that the tree (m, rootM) is a prefix of (n, rootN),
// m ≤ n: an RFC 6962 §2.1.2 consistency proof built by tlog.ProveTree
// from the tiles of src (whose size must be ≥ n) and checked by
// tlog.CheckTree against both roots. Equal sizes need equal roots.
//
// The proof is read through tlog.TileHashReader, which authenticates
// every tile it reads against rootN before using a hash: so corrupt tiles
// fail as a *MismatchError naming the tiles, and an *InconsistentError
// means the two tree heads really are not one log.
func consistent(src *replicaReader, n int64, rootN tlog.Hash, m int64, rootM tlog.Hash) error {
	if m > n || n > src.n {
		return fmt.Errorf("monitor: internal error: consistency of %d in %d from tiles of size %d", m, n, src.n)
	}
	if m == n {
		if rootM != rootN {
			return &InconsistentError{Old: tlog.Tree{N: m, Hash: rootM}, New: tlog.Tree{N: n, Hash: rootN}}
		}
		return nil
	}
	if m == 0 {
		return nil // the empty tree is a prefix of every tree
	}
	tr := &tileReaderAt{r: src}
	proof, err := tlog.ProveTree(n, m, tlog.TileHashReader(tlog.Tree{N: n, Hash: rootN}, tr))
	if err != nil {
		var fe *FetchError
		var me *MismatchError
		if errors.As(err, &fe) || errors.As(err, &me) {
			return err
		}
		return &MismatchError{What: "tile", URL: redactURL(src.base), Against: fmt.Sprintf("the root %s of size %d", rootN, n),
			Detail: fmt.Sprintf("%v: the tiles %v do not hash to it", err, tr.paths)}
	}
	if err := tlog.CheckTree(proof, n, rootN, m, rootM); err != nil {
		return &InconsistentError{Old: tlog.Tree{N: m, Hash: rootM}, New: tlog.Tree{N: n, Hash: rootN}, TilesFrom: redactURL(src.base), Proof: proof}
	}
	return nil
}

// tileReaderAt gives tlog.TileHashReader the replica's tiles at any width
// up to the replica's own (the narrower tile is a prefix of the wider),
// and records which it read.
type tileReaderAt struct {
	r     *replicaReader
	paths []string
}

func (a *tileReaderAt) Height() int { return tileHeight }

func (a *tileReaderAt) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		st, data, err := a.r.tile(t.L, t.N)
		if err != nil {
			return nil, err
		}
		a.paths = append(a.paths, a.r.tilePath(st.L, st.N, st.W))
		if t.W > st.W {
			return nil, fmt.Errorf("monitor: internal error: tile %s wider than the replica's", t.Path())
		}
		out[i] = data[:t.W*tlog.HashSize]
	}
	return out, nil
}

func (a *tileReaderAt) SaveTiles([]tlog.Tile, [][]byte) {}
