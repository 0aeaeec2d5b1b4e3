package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func testRoot() tlog.Hash {
	var h tlog.Hash
	for i := range h {
		h[i] = byte(i * 7)
	}
	return h
}

func TestCheckpointNote(t *testing.T) {
	k := testKey(t)
	root := testRoot()
	c, err := signCheckpoint(k, testOrigin, 42, root)
	if err != nil {
		t.Fatal(err)
	}
	// C2SP tlog-checkpoint: origin, size, base64 root; then the signed-note
	// blank line and one signature line "— <name> <base64>".
	want := testOrigin + "\n42\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n\n— fixtap.test "
	if !strings.HasPrefix(string(c.Note), want) || strings.Count(string(c.Note), "\n") != 5 {
		t.Fatalf("note:\n%s\nwant prefix:\n%s", c.Note, want)
	}
	v, err := note.NewVerifier(k.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := OpenCheckpoint(c.Note, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	if c2.Origin != testOrigin || c2.Size != 42 || c2.Root != root || !bytes.Equal(c2.Note, c.Note) {
		t.Fatalf("reopened %+v", c2)
	}
	// Another key's signature is not ours.
	other, _, err := GenerateKey(bytes.NewReader(make([]byte, 32)), "fixtap.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(c.Note, note.VerifierList(other.Verifier)); err == nil {
		t.Error("checkpoint verified with another key")
	}
	// One flipped byte of the text breaks the signature.
	bad := bytes.Clone(c.Note)
	bad[len(testOrigin)+1] = '3'
	if _, err := OpenCheckpoint(bad, note.VerifierList(v)); err == nil {
		t.Error("altered checkpoint verified")
	}
	// The stored record: the key's size must be the note's.
	rec := appendCheckpointRecord(nil, c)
	if _, err := decodeCheckpointRecord(42, rec, note.VerifierList(v)); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeCheckpointRecord(43, rec, note.VerifierList(v)); !errors.Is(err, ErrMalformed) {
		t.Errorf("record under the wrong size: %v", err)
	}
	rec[0] = 2
	if _, err := decodeCheckpointRecord(42, rec, note.VerifierList(v)); !errors.Is(err, ErrMalformed) {
		t.Errorf("record version 2: %v", err)
	}
}

func TestParseCheckpointTextRejects(t *testing.T) {
	root := testRoot()
	good := string(formatCheckpoint("o", 7, root))
	if _, _, _, err := ParseCheckpointText([]byte(good)); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(root[:])
	// Same 32 bytes, non-canonical: the last character's unused bits set.
	nonCanon := b64[:42] + string(b64[42]+1) + "="
	for name, text := range map[string]string{
		"Empty":         "",
		"NoFinalNL":     strings.TrimSuffix(good, "\n"),
		"Extension":     good + "ext\n",
		"EmptyOrigin":   "\n7\n" + b64 + "\n",
		"CtrlInOrigin":  "o\r\n7\n" + b64 + "\n",
		"LeadingZero":   "o\n07\n" + b64 + "\n",
		"Sign":          "o\n+7\n" + b64 + "\n",
		"Overflow":      "o\n18446744073709551616\n" + b64 + "\n",
		"ShortRoot":     "o\n7\n" + b64[:40] + "\n",
		"NoPadding":     "o\n7\n" + strings.TrimSuffix(b64, "=") + "\n",
		"URLBase64":     "o\n7\n" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)) + "\n",
		"NonCanonical":  "o\n7\n" + nonCanon + "\n",
		"SpaceInSize":   "o\n 7\n" + b64 + "\n",
		"HugeInput":     strings.Repeat("o", maxCheckpoint) + "\n7\n" + b64 + "\n",
		"InvalidUTF8":   "o\xff\n7\n" + b64 + "\n",
		"RootWithSpace": "o\n7\n" + b64 + " \n",
		"Unpadded44":    "o\n7\n" + strings.Repeat("0", 44) + "\n",
	} {
		if _, _, _, err := ParseCheckpointText([]byte(text)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %q: err = %v, want ErrMalformed", name, text, err)
		}
	}
}

// FuzzParseCheckpointText: whatever parses is canonical — it formats back
// to exactly the input.
func FuzzParseCheckpointText(f *testing.F) {
	f.Add(formatCheckpoint(testOrigin, 0, emptyRoot))
	f.Add(formatCheckpoint(testOrigin, 1<<40, testRoot()))
	f.Add([]byte("o\n07\nAAAA\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		origin, size, root, err := ParseCheckpointText(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if got := formatCheckpoint(origin, size, root); !bytes.Equal(got, text) {
			t.Fatalf("parsed %q, formats back as %q", text, got)
		}
	})
}

// FuzzDecodeCheckpointRecord: a stored record decodes only if its signature
// verifies and it is the checkpoint of its key's size; what decodes
// re-encodes to the same bytes.
func FuzzDecodeCheckpointRecord(f *testing.F) {
	k := testKey(f)
	for _, sz := range []uint64{1, 5, 1 << 33} {
		c, err := signCheckpoint(k, testOrigin, sz, testRoot())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sz, appendCheckpointRecord(nil, c))
	}
	f.Add(uint64(0), []byte{1})
	known := note.VerifierList(k.Verifier)
	f.Fuzz(func(t *testing.T, size uint64, rec []byte) {
		c, err := decodeCheckpointRecord(size, rec, known)
		if err != nil {
			return
		}
		if c.Size != size || c.Origin != testOrigin {
			t.Fatalf("decoded %+v under size %d", c, size)
		}
		if got := appendCheckpointRecord(nil, c); !bytes.Equal(got, rec) {
			t.Fatalf("re-encodes as %q, was %q", got, rec)
		}
	})
}
