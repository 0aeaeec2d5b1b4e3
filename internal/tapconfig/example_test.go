package tapconfig_test

import (
	"fmt"
	"strings"

	"github.com/fixtap/fixtap/internal/tapconfig"
)

// Parse reports every problem of a session file, sorted by line, each
// naming the file, the line and the key.
func ExampleParse() {
	const text = `[DEFAULT]
DataDir=/var/lib/fixtap
SigningKeyFile=/nonexistent/signing.key
PseudonymizeAccounts=N
BeginString=FIX.4.4
SenderCompID=FIXTAP
PolicyID=urn:example:policy:1
PolicyIssuer=Example Ops
[SESSION]
ConnectionType=acceptor
SocketAcceptPrt=9878
TargetCompID=OMS1
`
	_, err := tapconfig.Parse("fixtap.cfg", strings.NewReader(text))
	for _, e := range tapconfig.Errors(err) {
		fmt.Println(e)
	}
	// Output:
	// fixtap.cfg:3: key "SigningKeyFile": file /nonexistent/signing.key does not exist
	// fixtap.cfg:9: key "SocketAcceptPort": missing required key (set it in this [SESSION] or in [DEFAULT])
	// fixtap.cfg:11: key "SocketAcceptPrt": unknown key (did you mean "SocketAcceptPort"?)
}
