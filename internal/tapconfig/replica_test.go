package tapconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// replicaFile is minimal(dir) with extra lines put right after [DEFAULT]
// (so they are lines 2, 3, …).
func replicaFile(dir, extra string) string {
	return strings.Replace(minimal(dir), "[DEFAULT]\n", "[DEFAULT]\n"+extra, 1)
}

func writeCred(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("access_key_id = AK\nsecret_access_key = SK\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReplicas(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	cred := writeCred(t, dir, "s3.cred", 0o600)
	policy := filepath.Join(dir, "witness.policy")
	if err := os.WriteFile(policy, []byte("quorum none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := replicaFile(dir, "Replica1=name=eu,endpoint=https://s3.eu-west-1.amazonaws.com,region=eu-west-1,bucket=fixtap-audit,prefix=/tap-1/,credentials="+cred+"\n"+
		"Replica2=name=minio,endpoint=http://10.0.0.5:9000,bucket=audit,credentials="+cred+",path-style=Y\n"+
		"WitnessPolicyFile="+policy+"\n")
	f, err := Parse("r.cfg", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	rs := f.Tap.Replicas
	if len(rs) != 2 || f.Tap.ReplicaQuorum != 2 || f.Tap.WitnessPolicyFile != policy {
		t.Fatalf("replicas %+v quorum %d policy %q", rs, f.Tap.ReplicaQuorum, f.Tap.WitnessPolicyFile)
	}
	want0 := Replica{Name: "eu", Endpoint: "https://s3.eu-west-1.amazonaws.com", Region: "eu-west-1", Bucket: "fixtap-audit", Prefix: "tap-1", CredentialsFile: cred}
	want1 := Replica{Name: "minio", Endpoint: "http://10.0.0.5:9000", Region: "us-east-1", Bucket: "audit", CredentialsFile: cred, PathStyle: true}
	if rs[0] != want0 || rs[1] != want1 {
		t.Errorf("got\n%+v\n%+v", rs[0], rs[1])
	}
	if err := f.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	one := replicaFile(dir, "Replica1=name=eu,endpoint=https://s3.example,bucket=abc,credentials="+cred+"\nReplicaQuorum=1\n")
	if f, err := Parse("r.cfg", strings.NewReader(one)); err != nil || f.Tap.ReplicaQuorum != 1 {
		t.Errorf("one replica: %v", err)
	}
}

func TestReplicasBroken(t *testing.T) {
	dir := t.TempDir()
	fakeEtc(t, dir)
	cred := writeCred(t, dir, "s3.cred", 0o600)
	loose := writeCred(t, dir, "loose.cred", 0o644)
	ok := "name=a,endpoint=https://s3.example,bucket=abc,credentials=" + cred
	cases := []struct{ name, extra, key, msg string }{
		{"unknown field", "Replica1=" + ok + ",colour=blue\n", "Replica1", `unknown field "colour"`},
		{"missing bucket", "Replica1=name=a,endpoint=https://s3.example,credentials=" + cred + "\n", "Replica1", "missing field bucket"},
		{"endpoint with password", "Replica1=name=a,endpoint=https://u:pw@s3.example,bucket=abc,credentials=" + cred + "\n", "Replica1", "without credentials"},
		{"bad bucket", "Replica1=name=a,endpoint=https://s3.example,bucket=A_B,credentials=" + cred + "\n", "Replica1", "bucket"},
		{"loose credentials", "Replica1=name=a,endpoint=https://s3.example,bucket=abc,credentials=" + loose + "\n", "Replica1", "chmod 600"},
		{"gap", "Replica2=" + ok + "\n", "Replica2", "Replica1 is missing"},
		{"unnumbered", "Replica=" + ok + "\n", "Replica", "unknown key"},
		{"quorum too big", "Replica1=" + ok + "\nReplicaQuorum=2\n", "ReplicaQuorum", "more than the 1 replicas"},
		{"quorum alone", "ReplicaQuorum=1\n", "ReplicaQuorum", "without Replica1"},
		{"same name", "Replica1=" + ok + "\nReplica2=" + ok + "\n", "Replica2", "already used"},
		{"policy missing", "WitnessPolicyFile=" + dir + "/nope.policy\n", "WitnessPolicyFile", "does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("r.cfg", strings.NewReader(replicaFile(dir, c.extra)))
			if err == nil {
				t.Fatal("accepted")
			}
			found := false
			for _, e := range Errors(err) {
				if e.Key == c.key && strings.Contains(e.Msg, c.msg) && e.Line >= 2 {
					found = true
				}
			}
			if !found {
				t.Errorf("want an error on key %s containing %q, got:\n%v", c.key, c.msg, err)
			}
		})
	}
}

func TestLoadReplicaCredentials(t *testing.T) {
	dir := t.TempDir()
	p := writeCred(t, dir, "ok.cred", 0o600)
	id, secret, err := LoadReplicaCredentials(p)
	if err != nil || id != "AK" || secret != "SK" {
		t.Fatalf("got %q %q %v", id, secret, err)
	}
	for name, c := range map[string]struct {
		text string
		mode os.FileMode
		want string
	}{
		"loose":    {"access_key_id = AK\nsecret_access_key = SK\n", 0o640, "chmod 600"},
		"missing":  {"access_key_id = AK\n", 0o600, "want both"},
		"unknown":  {"access_key_id = AK\nsecret = SK\n", 0o600, ":2: unknown"},
		"repeated": {"access_key_id = AK\naccess_key_id = AK2\n", 0o600, ":2: unknown or repeated"},
		"no value": {"# c\naccess_key_id =\n", 0o600, ":2: want"},
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(c.text), c.mode)
		os.Chmod(p, c.mode)
		_, _, err := LoadReplicaCredentials(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "SK") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
