package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/fixtap/fixtap/internal/chain"
)

// A Checkpoint is a signed statement of the tree: C2SP tlog-checkpoint
// (https://c2sp.org/tlog-checkpoint), a signed note
// (https://c2sp.org/signed-note) whose text is
//
//	<origin>\n
//	<tree size, ASCII decimal>\n
//	<root hash, standard base64 with padding>\n
//
// followed by a blank line and one Ed25519 note signature line
// "— <key name> <base64(key hash ‖ signature)>". fixtap writes no extension
// lines and accepts none.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
	// Note is the exact signed note, byte for byte: what a verifier checks
	// and what an RFC 3161 anchor time-stamps (SHA-256 of these bytes).
	Note []byte
}

// Stored checkpoint record, key 'c' + tree size(8):
//
//	byte    version (1)
//	…       the signed note, exactly as signed
const checkpointRecordVersion = 1

// maxCheckpoint caps a stored checkpoint record and a note text: ours are
// under 300 bytes (origin ≤ maxOrigin).
const (
	maxCheckpoint = 4096
	maxOrigin     = 256
)

func checkpointKey(size uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{chain.PrefixCheckpt}, size)
}

// formatCheckpoint returns the checkpoint text for (origin, size, root).
func formatCheckpoint(origin string, size uint64, root tlog.Hash) []byte {
	b := make([]byte, 0, len(origin)+70)
	b = append(b, origin...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, root[:])
	return append(b, '\n')
}

// ParseCheckpointText parses a checkpoint text (the note's body, without
// the signature), strictly: exactly three lines, a non-empty UTF-8 origin
// of at most 256 bytes with no control characters, a canonical decimal size
// (no sign, no leading zero), and a root that is the canonical padded
// base64 of 32 bytes. It writes nothing until the whole input is known good.
func ParseCheckpointText(text []byte) (origin string, size uint64, root tlog.Hash, err error) {
	fail := func(format string, args ...any) (string, uint64, tlog.Hash, error) {
		return "", 0, tlog.Hash{}, fmt.Errorf("seal: checkpoint: %w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	if len(text) > maxCheckpoint {
		return fail("%d bytes", len(text))
	}
	lines := bytes.SplitAfter(text, []byte("\n"))
	if len(lines) != 4 || len(lines[3]) != 0 {
		return fail("want exactly three newline-terminated lines")
	}
	o := lines[0][:len(lines[0])-1]
	s := lines[1][:len(lines[1])-1]
	r := lines[2][:len(lines[2])-1]
	if len(o) == 0 || len(o) > maxOrigin || !utf8.Valid(o) || bytes.ContainsFunc(o, isControl) {
		return fail("bad origin %q", o)
	}
	if len(s) == 0 || len(s) > 20 || (s[0] == '0' && len(s) > 1) {
		return fail("bad tree size %q", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return fail("bad tree size %q", s)
		}
	}
	n, perr := strconv.ParseUint(string(s), 10, 64)
	if perr != nil {
		return fail("bad tree size %q: %v", s, perr)
	}
	var h tlog.Hash
	if len(r) != base64.StdEncoding.EncodedLen(len(h)) {
		return fail("bad root %q", r)
	}
	// Decode into a buffer of DecodedLen: 44 characters without padding
	// would be 33 bytes.
	var buf [33]byte
	dn, derr := base64.StdEncoding.Decode(buf[:], r)
	if derr != nil || dn != len(h) {
		return fail("bad root %q", r)
	}
	copy(h[:], buf[:dn])
	if !bytes.Equal(base64.StdEncoding.AppendEncode(nil, h[:]), r) {
		return fail("bad root %q", r)
	}
	return string(o), n, h, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// signCheckpoint makes the signed note for (origin, size, root).
func signCheckpoint(k *Key, origin string, size uint64, root tlog.Hash) (*Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: string(formatCheckpoint(origin, size, root))}, k.Signer)
	if err != nil {
		return nil, fmt.Errorf("seal: sign checkpoint %d: %w", size, err)
	}
	return &Checkpoint{Origin: origin, Size: size, Root: root, Note: msg}, nil
}

// OpenCheckpoint verifies a signed checkpoint note with the given verifiers
// (at least one signature must verify) and parses its text strictly.
func OpenCheckpoint(msg []byte, known note.Verifiers) (*Checkpoint, error) {
	if len(msg) > maxCheckpoint {
		return nil, fmt.Errorf("seal: checkpoint: %w: %d bytes", ErrMalformed, len(msg))
	}
	n, err := note.Open(msg, known)
	if err != nil {
		return nil, fmt.Errorf("seal: checkpoint: %w", err)
	}
	origin, size, root, err := ParseCheckpointText([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	return &Checkpoint{Origin: origin, Size: size, Root: root, Note: bytes.Clone(msg)}, nil
}

func appendCheckpointRecord(dst []byte, c *Checkpoint) []byte {
	return append(append(dst, checkpointRecordVersion), c.Note...)
}

// decodeCheckpointRecord decodes the record stored under 'c' + size and
// checks it: version, signature, text, and that it is the checkpoint of
// the size its key says.
func decodeCheckpointRecord(size uint64, b []byte, known note.Verifiers) (*Checkpoint, error) {
	if len(b) < 1 || len(b) > maxCheckpoint+1 {
		return nil, fmt.Errorf("seal: checkpoint record %d: %w: %d bytes", size, ErrMalformed, len(b))
	}
	if b[0] != checkpointRecordVersion {
		return nil, fmt.Errorf("seal: checkpoint record %d: %w: version %d, want %d", size, ErrMalformed, b[0], checkpointRecordVersion)
	}
	c, err := OpenCheckpoint(b[1:], known)
	if err != nil {
		return nil, fmt.Errorf("seal: checkpoint record %d: %w", size, err)
	}
	if c.Size != size {
		return nil, fmt.Errorf("seal: checkpoint record %d: %w: note says size %d", size, ErrMalformed, c.Size)
	}
	return c, nil
}
