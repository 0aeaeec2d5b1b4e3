package tapconfig

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Replica is one ReplicaN key: an S3-compatible store that receives the
// log in the C2SP tlog-tiles layout (internal/replica). The value is a
// comma list of name=value pairs:
//
//	Replica1=name=eu-primary,endpoint=https://s3.eu-west-1.amazonaws.com,region=eu-west-1,bucket=fixtap-audit,prefix=tap-1,credentials=/etc/fixtap/s3-eu.cred
//
// name, endpoint, bucket and credentials are required; region defaults
// to us-east-1, prefix to none, path-style to N (Y for MinIO, Ceph RGW and
// other servers without virtual-host buckets). credentials names a file of
// mode 0600 or 0400 holding `access_key_id = …` and `secret_access_key = …`
// lines; the secret is never held in this struct.
type Replica struct {
	Name            string
	Endpoint        string // http(s) URL of the S3 API
	Region          string
	Bucket          string
	Prefix          string // key prefix without leading or trailing '/'
	CredentialsFile string
	PathStyle       bool
}

var replicaFields = []string{"name", "endpoint", "region", "bucket", "prefix", "credentials", "path-style"}

// parseReplica parses a ReplicaN value; msg is non-empty on error.
func parseReplica(v string) (r Replica, msg string) {
	r.Region = "us-east-1"
	seen := map[string]bool{}
	for part := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || val == "" {
			return r, fmt.Sprintf("%q: want name=value (fields %s)", part, strings.Join(replicaFields, ", "))
		}
		if !slices.Contains(replicaFields, k) {
			return r, fmt.Sprintf("unknown field %q (fields %s)", k, strings.Join(replicaFields, ", "))
		}
		if seen[k] {
			return r, fmt.Sprintf("field %q given twice", k)
		}
		seen[k] = true
		switch k {
		case "name":
			if strings.ContainsFunc(val, func(c rune) bool { return c <= ' ' || c > '~' }) {
				return r, fmt.Sprintf("name %q: want printable ASCII without spaces", val)
			}
			r.Name = val
		case "endpoint":
			u, err := url.Parse(val)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
				return r, fmt.Sprintf("endpoint %q: want an http or https URL without credentials", redactURL(val))
			}
			r.Endpoint = val
		case "region":
			r.Region = val
		case "bucket":
			// S3 bucket naming rules, the portable subset.
			if len(val) < 3 || len(val) > 63 || strings.ContainsFunc(val, func(c rune) bool {
				return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.')
			}) {
				return r, fmt.Sprintf("bucket %q: want 3-63 characters of a-z, 0-9, '-' and '.'", val)
			}
			r.Bucket = val
		case "prefix":
			p := strings.Trim(val, "/")
			if p == "" || strings.Contains(p, "//") || slices.Contains(strings.Split(p, "/"), "..") {
				return r, fmt.Sprintf("prefix %q: want a key prefix like tap-1 or audit/tap-1", val)
			}
			r.Prefix = p
		case "credentials":
			if !filepath.IsAbs(val) {
				return r, fmt.Sprintf("credentials %q: want an absolute path", val)
			}
			if m := checkFile(val); m != "" {
				return r, "credentials: " + m
			}
			if fi, err := os.Stat(val); err == nil && fi.Mode().Perm()&0o077 != 0 {
				return r, fmt.Sprintf("credentials file %s has mode %04o: it must not be readable or writable by group or others (chmod 600 %s)", val, fi.Mode().Perm(), val)
			}
			r.CredentialsFile = val
		case "path-style":
			if val != "Y" && val != "N" {
				return r, fmt.Sprintf("path-style %q: want Y or N", val)
			}
			r.PathStyle = val == "Y"
		}
	}
	for _, k := range []string{"name", "endpoint", "bucket", "credentials"} {
		if !seen[k] {
			return r, fmt.Sprintf("missing field %s", k)
		}
	}
	return r, ""
}

// String shows a replica without anything secret (the credentials file
// is a path; the endpoint carries no user info).
func (r Replica) String() string {
	return fmt.Sprintf("%s=%s/%s/%s", r.Name, r.Endpoint, r.Bucket, r.Prefix)
}

// LoadReplicaCredentials reads a replica's credentials file: lines
// `access_key_id = …` and `secret_access_key = …` (blank lines and lines
// starting with # ignored). The file must not be readable or writable by
// group or others. Errors name the file and line, never the secret.
func LoadReplicaCredentials(path string) (accessKeyID, secretAccessKey string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", "", fmt.Errorf("tapconfig: replica credentials: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", "", fmt.Errorf("tapconfig: replica credentials %s has mode %04o: it must not be readable or writable by group or others (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("tapconfig: replica credentials: %w", err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok || v == "":
			return "", "", fmt.Errorf("tapconfig: %s:%d: want `name = value`", path, i+1)
		case k == "access_key_id" && accessKeyID == "":
			accessKeyID = v
		case k == "secret_access_key" && secretAccessKey == "":
			secretAccessKey = v
		default:
			return "", "", fmt.Errorf("tapconfig: %s:%d: unknown or repeated name %q (want access_key_id and secret_access_key once each)", path, i+1, k)
		}
	}
	if accessKeyID == "" || secretAccessKey == "" {
		return "", "", fmt.Errorf("tapconfig: %s: want both access_key_id and secret_access_key", path)
	}
	return accessKeyID, secretAccessKey, nil
}
