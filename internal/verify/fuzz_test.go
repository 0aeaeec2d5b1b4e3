package verify

import (
	"bytes"
	"testing"
)

// FuzzParseLine: the event-line splitter and the Security parser never
// panic, and what they accept splits back into the same bytes.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"Header":{"EventID":"x"},"Payload":{"A":[1,{"b":"\""}]},"Security":{"EventHash":"00","MerkleIndex":3,"Version":"1.1"}}`))
	f.Add([]byte(`{"Header":{},"Payload":{},"Security":{}}`))
	f.Add([]byte(`{"Header":"x"`))
	f.Fuzz(func(t *testing.T, line []byte) {
		h, p, s, err := splitLine(line)
		if err != nil {
			return
		}
		re := append([]byte(`{"Header":`), h...)
		re = append(append(re, `,"Payload":`...), p...)
		re = append(append(re, `,"Security":`...), s...)
		if !bytes.Equal(append(re, '}'), line) {
			t.Fatalf("split %q does not reassemble", line)
		}
		parseSecurity(s)
	})
}

// FuzzParseTlogProof: the C2SP tlog-proof parser never panics.
func FuzzParseTlogProof(f *testing.F) {
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra AAAA\nindex 5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\norigin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseTlogProof(b)
	})
}

// FuzzParseCheckpoint: the checkpoint text parser never panics and
// accepts only what it can reproduce.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("fixtap/x\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Fuzz(func(t *testing.T, s string) {
		parseCheckpoint(s)
	})
}

// FuzzReadArchive: a hostile archive never panics the reader.
func FuzzReadArchive(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b})
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		if fsys, err := ReadArchive(bytes.NewReader(b)); err == nil {
			ReadManifest(fsys)
		}
	})
}
