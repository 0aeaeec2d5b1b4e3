package monitor

import (
	"fmt"
	"github.com/fixtap/fixtap/internal/verify"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// maxCheckpoint caps a checkpoint note: a few lines and a few dozen
// signature lines (tlog-witness cosignatures) fit in far less.
const maxCheckpoint = 1 << 16

// Checkpoint is a verified checkpoint: a C2SP tlog-checkpoint signed note
// whose log signature verified.
type Checkpoint struct {
	Origin string
	Tree   tlog.Tree // Size N and root Hash
	// Note is the whole signed note as served, with any cosignatures.
	Note []byte
}

// openCheckpoint verifies a signed checkpoint note with the log's
// verifier and checks its origin (C2SP tlog-checkpoint: the note carries
// the log's Ed25519 signature; tlog-tiles "Checkpoints": a public log's
// checkpoint MUST). Signatures by other keys — witness cosignatures — are
// left for the witness policy; note.Open keeps them unverified.
func openCheckpoint(msg []byte, log note.Verifier, origin string) (*Checkpoint, error) {
	if len(msg) > maxCheckpoint {
		return nil, fmt.Errorf("%d bytes, at most %d", len(msg), maxCheckpoint)
	}
	n, err := note.Open(msg, note.VerifierList(log))
	if err != nil {
		return nil, fmt.Errorf("log signature (key %s): %w", log.Name(), err)
	}
	o, size, root, err := verify.ParseCheckpointText(n.Text)
	if err != nil {
		return nil, err
	}
	tree := tlog.Tree{N: int64(size), Hash: root}
	if o != origin {
		return nil, fmt.Errorf("origin %q, want %q", o, origin)
	}
	return &Checkpoint{Origin: o, Tree: tree, Note: msg}, nil
}
