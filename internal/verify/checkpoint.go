package verify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// ParseCheckpointText parses a C2SP tlog-checkpoint text (the signed
// note's body): "<origin>\n<size>\n<base64 root>\n", strictly (no extension
// lines: fixtap writes none; the size a canonical decimal below 2^63, as
// tlog's int64 sizes; the root padded base64). This is written
// independently of internal/seal, so the outsiders — the verifier and the
// monitor — do not trust the writer's parser.
func ParseCheckpointText(text string) (origin string, size uint64, root [32]byte, err error) {
	lines := bytes.Split([]byte(text), []byte("\n"))
	if len(lines) != 4 || len(lines[3]) != 0 {
		return "", 0, root, errors.New("want exactly three lines")
	}
	origin = string(lines[0])
	if origin == "" {
		return "", 0, root, errors.New("empty origin")
	}
	s := string(lines[1])
	size, err = strconv.ParseUint(s, 10, 63)
	if err != nil || (len(s) > 1 && s[0] == '0') {
		return "", 0, root, fmt.Errorf("tree size %q: want a canonical decimal", s)
	}
	r, err := base64.StdEncoding.Strict().DecodeString(string(lines[2]))
	if err != nil || len(r) != 32 || base64.StdEncoding.EncodeToString(r) != string(lines[2]) {
		return "", 0, root, fmt.Errorf("root %q: want the padded base64 of 32 bytes", lines[2])
	}
	copy(root[:], r)
	return origin, size, root, nil
}
