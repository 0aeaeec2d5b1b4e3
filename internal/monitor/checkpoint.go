package monitor

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

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

// parseCheckpointText parses a C2SP tlog-checkpoint body strictly:
//
//	<origin>\n<decimal size>\n<base64 root>\n
//
// (tlog-checkpoint.md "Note text": the origin, the tree size in decimal
// without leading zeroes, the base64 root hash; fixtap writes no extension
// lines, so none are accepted). Written independently of internal/seal:
// the monitor does not trust the writer's parser.
func parseCheckpointText(text string) (origin string, tree tlog.Tree, err error) {
	lines := bytes.Split([]byte(text), []byte("\n"))
	if len(lines) != 4 || len(lines[3]) != 0 {
		return "", tree, errors.New("want exactly three lines (origin, size, root), no extension lines")
	}
	origin = string(lines[0])
	if origin == "" {
		return "", tree, errors.New("empty origin")
	}
	s := string(lines[1])
	size, err := strconv.ParseUint(s, 10, 63)
	if err != nil || (len(s) > 1 && s[0] == '0') || s[0] == '+' {
		return "", tree, fmt.Errorf("tree size %q: want a canonical decimal", s)
	}
	r, err := base64.StdEncoding.Strict().DecodeString(string(lines[2]))
	if err != nil || len(r) != tlog.HashSize || base64.StdEncoding.EncodeToString(r) != string(lines[2]) {
		return "", tree, fmt.Errorf("root %q: want the padded base64 of 32 bytes", lines[2])
	}
	tree.N = int64(size)
	copy(tree.Hash[:], r)
	return origin, tree, nil
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
	o, tree, err := parseCheckpointText(n.Text)
	if err != nil {
		return nil, err
	}
	if o != origin {
		return nil, fmt.Errorf("origin %q, want %q", o, origin)
	}
	return &Checkpoint{Origin: o, Tree: tree, Note: msg}, nil
}
