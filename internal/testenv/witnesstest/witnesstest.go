// Package witnesstest runs a real C2SP tlog-witness for integration tests:
// litewitness from filippo.io/torchwood v0.8.0 (pinned in tools/go.mod,
// installed by `go -C tools install tool`), listening on a loopback port,
// signing through its own ssh-agent, with its SQLite database seeded by the
// sqlite3 CLI.
//
// Start creates an Ed25519 key with ssh-keygen, runs a dedicated
// `ssh-agent -D -a SOCK`, loads the key with ssh-add, writes the database
// (litewitness's schema: tables log, key, bastion), and runs
// `litewitness -name -db -key SHA256:<fp> -ssh-agent SOCK -listen
// 127.0.0.1:PORT`. Every process it starts is stopped by PID in t.Cleanup.
//
// What litewitness v0.8.0 does, as established by this package's tests
// (witnesstest_test.go):
//   - POST URL+"/add-checkpoint" with "old 0\n\n" and a checkpoint signed
//     by a known key of a known log answers 200 with one cosignature/v1
//     signature line ("— <name> <base64(keyhash‖timestamp‖sig)>\n"),
//     which note.Open accepts with torchwood.NewCosignatureVerifier(VerifierKey).
//   - An old size different from the one it holds answers 409 Conflict,
//     Content-Type text/x.tlog.size, body "<size>\n" — unless the old size
//     exceeds the checkpoint's size, which is 400 Bad Request first.
//   - A consistency proof that does not verify answers 422.
//   - An unknown origin answers 403 Forbidden "unknown log" — NOT 404 as
//     C2SP tlog-witness ("If the checkpoint origin is unknown, the witness
//     MUST respond with a 404 Not Found") requires; a client must treat
//     both as "this witness does not know the log".
//   - A checkpoint not signed by a known key of the log answers 403.
//   - It handles SIGINT gracefully but not SIGTERM, which kills it at once
//     (harmless: SQLite keeps the database consistent).
//   - Logs added to the database while it runs are seen by the next request.
package witnesstest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"

	"github.com/fixtap/fixtap/internal/testenv"
	"github.com/fixtap/fixtap/internal/testenv/testproc"
)

// Tool is the witness executable, found by testenv.RequireGoTool.
const Tool = "litewitness"

const startTimeout = 30 * time.Second

// EmptyTreeHash is the base64 RFC 6962 root of the empty tree,
// SHA-256 of the empty string: the tree_hash `witnessctl add-log` writes for
// a new log (tree_size 0), and the one Start and AddLog write.
const EmptyTreeHash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// Log is a log the witness knows: its origin and the C2SP signed-note
// verifier keys ("name+hash+base64", Ed25519, name = Origin) whose
// signatures on a checkpoint the witness accepts.
type Log struct {
	Origin       string
	VerifierKeys []string
}

// Witness is a running litewitness.
type Witness struct {
	Name string // the witness name in its cosignature lines, e.g. "witness1.fixtap.test"
	// URL is the submission prefix, "http://127.0.0.1:PORT": a client
	// POSTs to URL+"/add-checkpoint" (C2SP tlog-witness).
	URL string
	// VerifierKey is the C2SP signed-note vkey of the witness's
	// cosignature/v1 key: Name+keyhash+base64(0x04‖Ed25519 public key),
	// keyhash = first 4 bytes of SHA-256(Name‖"\n"‖0x04‖key)
	// (C2SP tlog-cosignature). Use torchwood.NewCosignatureVerifier.
	VerifierKey string
	DB          string // the SQLite database

	tools       tools
	dir         string // key files
	keyFile     string // the ssh-keygen private key
	fingerprint string // "SHA256:<base64>" of the public key
	sockDir     string // short directory for the agent socket
	port        int
	addr        string // 127.0.0.1:PORT
	agent       *testproc.Proc
	witness     *testproc.Proc
}

type tools struct {
	litewitness, sshKeygen, sshAgent, sshAdd, sqlite3 string
}

// Start runs a litewitness named name that knows logs, and returns once it
// answers HTTP. Missing tools (litewitness, ssh-keygen, ssh-agent, ssh-add,
// sqlite3) skip the test, or fail it under FIXTAP_REQUIRE_INTEGRATION=1.
func Start(t testing.TB, name string, logs ...Log) *Witness {
	t.Helper()
	w := &Witness{
		Name: name,
		tools: tools{
			litewitness: testenv.RequireGoTool(t, Tool),
			sshKeygen:   testenv.RequireTool(t, "ssh-keygen"),
			sshAgent:    testenv.RequireTool(t, "ssh-agent"),
			sshAdd:      testenv.RequireTool(t, "ssh-add"),
			sqlite3:     testenv.RequireTool(t, "sqlite3"),
		},
		dir: t.TempDir(),
	}
	w.DB = filepath.Join(w.dir, "litewitness.db")
	w.keyFile = filepath.Join(w.dir, "witness_ed25519")
	// A Unix socket path must fit in 108 bytes; t.TempDir() paths carry
	// the test name and may not.
	sockDir, err := os.MkdirTemp("", "fixtap-wt-")
	if err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	w.sockDir = sockDir
	t.Cleanup(func() { os.RemoveAll(sockDir) })

	run(t, nil, "", w.tools.sshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", w.keyFile)
	pub, fp := readPublicKey(t, w.keyFile+".pub")
	w.fingerprint = fp
	vkey, err := cosignatureVerifierKey(name, pub)
	if err != nil {
		t.Fatalf("witnesstest: witness name %q: %v", name, err)
	}
	w.VerifierKey = vkey

	w.exec(t, schema)
	for _, l := range logs {
		w.AddLog(t, l)
	}

	w.startAgent(t)
	// FreePort's port may be taken before litewitness binds it; then try
	// another.
	for attempt := 1; ; attempt++ {
		w.port = testproc.FreePort(t)
		w.addr = testproc.HostPort(w.port)
		w.URL = "http://" + w.addr
		err := w.startWitness(t)
		if err == nil {
			return w
		}
		if !w.witness.LostPort() || attempt == 3 {
			t.Fatalf("witnesstest: %s (pid %d) did not start: %v\n%s", Tool, w.witness.PID(), err, w.witness.Output())
		}
		t.Logf("witnesstest: port %s taken before %s bound it; retrying", w.addr, Tool)
	}
}

// schema is litewitness's, from filippo.io/torchwood@v0.8.0
// internal/witness/witness.go OpenDB (which also runs it, IF NOT EXISTS).
const schema = `
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS log (
	origin TEXT PRIMARY KEY,
	tree_size INTEGER NOT NULL,
	tree_hash TEXT NOT NULL -- base64-encoded
);
CREATE TABLE IF NOT EXISTS key (
	origin TEXT NOT NULL,
	key TEXT NOT NULL, -- note verifier key
	FOREIGN KEY(origin) REFERENCES log(origin)
);
CREATE TABLE IF NOT EXISTS bastion (
	origin TEXT NOT NULL,
	bastion TEXT NOT NULL, -- addr:port
	FOREIGN KEY(origin) REFERENCES log(origin)
);
`

// AddLog adds l to the witness's database, as `witnessctl add-log` and
// `add-key` do: the log at size 0 with the empty tree's hash (a log already
// known keeps its size and hash), and each of its verifier keys. A running
// witness sees it on its next request.
func (w *Witness) AddLog(t testing.TB, l Log) {
	t.Helper()
	var sql strings.Builder
	sql.WriteString("PRAGMA foreign_keys = ON;\nBEGIN;\n")
	fmt.Fprintf(&sql, "INSERT OR IGNORE INTO log (origin, tree_size, tree_hash) VALUES (%s, 0, %s);\n",
		quote(t, l.Origin), quote(t, EmptyTreeHash))
	for _, k := range l.VerifierKeys {
		fmt.Fprintf(&sql, "INSERT INTO key (origin, key) VALUES (%s, %s);\n", quote(t, l.Origin), quote(t, k))
	}
	sql.WriteString("COMMIT;\n")
	w.exec(t, sql.String())
}

// exec runs script with the sqlite3 CLI on w.DB, waiting up to 10s for a
// lock held by litewitness.
func (w *Witness) exec(t testing.TB, script string) {
	t.Helper()
	run(t, nil, ".timeout 10000\n"+script, w.tools.sqlite3, "-bail", "-batch", w.DB)
}

// quote renders s as an SQL string literal.
func quote(t testing.TB, s string) string {
	t.Helper()
	if strings.ContainsAny(s, "\x00\n") {
		t.Fatalf("witnesstest: %q: NUL or newline in a database value", s)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func (w *Witness) agentSock() string { return filepath.Join(w.sockDir, "agent.sock") }

// startAgent runs the witness's dedicated ssh-agent in the foreground (-D)
// and loads the key into it.
func (w *Witness) startAgent(t testing.TB) {
	t.Helper()
	sock := w.agentSock()
	os.Remove(sock) // left by a killed agent
	w.agent = testproc.Start(t, testproc.Cmd{
		Name: "ssh-agent",
		Path: w.tools.sshAgent,
		Args: []string{"-D", "-a", sock},
	})
	w.agent.WaitFile(t, sock, startTimeout)
	// ssh-agent creates the socket file before it listens on it: wait
	// until a connection is accepted, or ssh-add may be refused.
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-deadline.C:
			t.Fatalf("witnesstest: ssh-agent at %s does not accept connections: %v", sock, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	run(t, []string{"SSH_AUTH_SOCK=" + sock}, "", w.tools.sshAdd, "-q", w.keyFile)
}

// startWitness runs litewitness on w.addr and waits until it answers.
func (w *Witness) startWitness(t testing.TB) error {
	t.Helper()
	w.witness = testproc.Start(t, testproc.Cmd{
		Name: Tool,
		Path: w.tools.litewitness,
		Args: []string{
			"-name", w.Name,
			"-db", w.DB,
			"-key", w.fingerprint,
			"-ssh-agent", w.agentSock(),
			"-listen", w.addr,
		},
	})
	if err := w.witness.AwaitListener(w.port, startTimeout); err != nil {
		return err
	}
	if err := w.witness.AwaitHTTP(w.URL+"/", startTimeout, nil); err != nil {
		return err
	}
	// litewitness logs the vkey it derived from the agent's key; it must
	// be the one computed here from the public key file.
	m := vkeyLog.FindStringSubmatch(w.witness.Output())
	if m == nil {
		t.Fatalf("witnesstest: litewitness did not log its verifier key:\n%s", w.witness.Output())
	}
	if m[1] != w.VerifierKey {
		t.Fatalf("witnesstest: litewitness's verifier key %q differs from the computed %q", m[1], w.VerifierKey)
	}
	return nil
}

// vkeyLog matches litewitness's slog line `msg="verifier key" vkey=...`.
var vkeyLog = regexp.MustCompile(`msg="verifier key" vkey=(\S+)`)

// run executes a short-lived command to completion (30s at most) with the
// minimal environment plus env, failing the test with its output if it
// fails.
func run(t testing.TB, env []string, stdin string, path string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(testproc.MinimalEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("witnesstest: %s %s: %v\n%s", path, strings.Join(args, " "), err, out)
	}
}

// PIDs returns the process IDs of the running ssh-agent and litewitness.
func (w *Witness) PIDs() []int {
	return []int{w.agent.PID(), w.witness.PID()}
}

// Stop stops litewitness and its ssh-agent by PID (SIGTERM, then SIGKILL
// after a grace period) and waits until both are gone. The key and the
// database stay.
func (w *Witness) Stop(t testing.TB) {
	t.Helper()
	w.witness.Stop(t)
	w.agent.Stop(t)
}

// Restart stops the witness if it runs and starts it again with the same
// key, database and port.
func (w *Witness) Restart(t testing.TB) {
	t.Helper()
	w.Stop(t)
	w.startAgent(t)
	if err := w.startWitness(t); err != nil {
		t.Fatalf("witnesstest: restarting %s on %s (pid %d): %v\n%s", Tool, w.addr, w.witness.PID(), err, w.witness.Output())
	}
}

// readPublicKey parses an OpenSSH "ssh-ed25519 <base64> comment" public key
// file and returns the Ed25519 key and its OpenSSH SHA-256 fingerprint,
// "SHA256:" + unpadded base64 of SHA-256 of the wire-format key blob.
func readPublicKey(t testing.TB, path string) (ed25519.PublicKey, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 || f[0] != "ssh-ed25519" {
		t.Fatalf("witnesstest: %s: not an ssh-ed25519 public key: %q", path, b)
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		t.Fatalf("witnesstest: %s: %v", path, err)
	}
	// RFC 8709 §4: string "ssh-ed25519", string key (32 bytes).
	want := append(sshString([]byte("ssh-ed25519")), sshString(make([]byte, ed25519.PublicKeySize))...)
	if len(blob) != len(want) || !bytes.Equal(blob[:len(want)-ed25519.PublicKeySize], want[:len(want)-ed25519.PublicKeySize]) {
		t.Fatalf("witnesstest: %s: malformed ssh-ed25519 key blob", path)
	}
	sum := sha256.Sum256(blob)
	return ed25519.PublicKey(blob[len(blob)-ed25519.PublicKeySize:]), "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

func sshString(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// cosignatureVerifierKey returns the C2SP signed-note vkey of a
// cosignature/v1 key (C2SP tlog-cosignature: signature type 0x04):
// name+hex(keyhash)+base64(0x04‖pub), keyhash = SHA-256(name‖"\n"‖0x04‖pub)[:4].
// torchwood.NewCosignatureVerifier checks it.
func cosignatureVerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	key := append([]byte{0x04}, pub...)
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(key)
	vkey := fmt.Sprintf("%s+%08x+%s", name, binary.BigEndian.Uint32(h.Sum(nil)), base64.StdEncoding.EncodeToString(key))
	if _, err := torchwood.NewCosignatureVerifier(vkey); err != nil {
		return "", err
	}
	return vkey, nil
}
