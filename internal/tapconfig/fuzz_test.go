package tapconfig

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics; it returns a File or an error that is one
// *Error or a join of them (each naming the file, sorted by line); a File
// it returns validates and renders for quickfixgo.
func FuzzParse(f *testing.F) {
	dir := f.TempDir()
	fakeEtc(f, dir)
	brokenFiles(f, dir)
	example, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example) // paths under /etc/fixtap: refused on this machine
	f.Add([]byte(exampleIn(f, dir)))
	f.Add([]byte(minimal(dir)))
	for _, c := range brokenCases {
		f.Add([]byte(strings.ReplaceAll(c.edit(minimalTemplate), "{{dir}}", dir)))
	}
	f.Add([]byte(""))
	f.Add([]byte("[DEFAULT]\n[SESSION]\n=\n[\n]\n\xef\xbb\xbf"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.cfg", bytes.NewReader(data))
		if err != nil {
			if file != nil {
				t.Fatal("File returned with an error")
			}
			checkErrShape(t, "fuzz.cfg", err)
			return
		}
		if err := file.Validate(); err != nil {
			t.Fatalf("accepted File does not validate: %v", err)
		}
		for _, conn := range []string{Acceptor, Initiator} {
			if _, err := file.QuickfixSettings(conn); err != nil && !errors.Is(err, ErrNoSessions) {
				t.Fatalf("QuickfixSettings(%s) of an accepted file: %v", conn, err)
			}
		}
	})
}
