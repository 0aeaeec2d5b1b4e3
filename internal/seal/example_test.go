package seal_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/seal"
)

// The leaf of the shared vectors' first event, EventHash = SHA-256("event-0"):
// SHA-256(0x00 ‖ raw EventHash), which is also the root of a one-event log
// (the vectors' roots["1"]).
func ExampleLeafHash() {
	eh := chain.Hash(sha256.Sum256([]byte("event-0")))
	leaf := seal.LeafHash(eh)
	fmt.Println(eh)
	fmt.Printf("%x\n", leaf[:])
	fmt.Println(leaf) // as a checkpoint carries it
	// Output:
	// 23352a67ac7ffc4b5d98023dc1a54ee507d4bf95dc1c4154045c5e2bbde73317
	// e92348a95c75e943f06588e8f4e6c73d17fbe56595c75169aafbb8086ad75adf
	// 6SNIqVx16UPwZYjo9ObHPRf75WWVx1Fpqvu4CGrXWt8=
}

// A checkpoint text is three lines: origin, tree size, base64 root
// (C2SP tlog-checkpoint); anything else is refused.
func ExampleParseCheckpointText() {
	text := []byte("fixtap.example.com/tap-1\n1\n6SNIqVx16UPwZYjo9ObHPRf75WWVx1Fpqvu4CGrXWt8=\n")
	origin, size, root, err := seal.ParseCheckpointText(text)
	fmt.Printf("%s %d %x %v\n", origin, size, root[:], err)
	_, _, _, err = seal.ParseCheckpointText(bytes.Replace(text, []byte("\n1\n"), []byte("\n01\n"), 1))
	fmt.Println(err)
	// Output:
	// fixtap.example.com/tap-1 1 e92348a95c75e943f06588e8f4e6c73d17fbe56595c75169aafbb8086ad75adf <nil>
	// seal: checkpoint: seal: malformed: bad tree size "01"
}
