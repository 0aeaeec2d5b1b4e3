package tapconfig

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
)

// maxFileSize caps a session file (and an allow-list file).
const maxFileSize = 1 << 20

// entry is one Key=Value line.
type entry struct {
	val  string
	line int
}

// section is one [DEFAULT] or [SESSION] block.
type section struct {
	line int
	vals map[string]entry
}

// Load reads and checks the session file at path.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot open session file: %v", err), Err: err}
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse reads and checks a session file; name is used in errors and as
// File.Path. Referenced files (keys, certificates, secrets) are checked on
// the real file system. Every problem found is reported, sorted by line,
// as one *Error or an errors.Join of them.
func Parse(name string, r io.Reader) (*File, error) {
	el := &errList{file: name}
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		el.add(0, "", "cannot read session file: %v", err).Err = err
		return nil, el.err()
	}
	if len(data) > maxFileSize {
		el.add(0, "", "session file is larger than %d bytes", maxFileSize)
		return nil, el.err()
	}
	def, sessions := scan(el, data)
	f := resolve(el, name, def, sessions)
	if err := el.err(); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		// Parse checks everything Validate does, with lines; this is a
		// guard against the two drifting apart.
		el.add(0, "", "%v", err).Err = err
		return nil, el.err()
	}
	return f, nil
}

// scan splits data into sections, refusing malformed lines, unknown or
// misplaced keys, duplicated keys and bad values.
func scan(el *errList, data []byte) (def *section, sessions []*section) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxFileSize+1)
	var cur *section
	var curName string
	refused := false // inside a refused section header: its keys are skipped
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			name, ok := strings.CutSuffix(line[1:], "]")
			name = strings.ToUpper(strings.TrimSpace(name))
			switch {
			case !ok:
				el.add(lineNo, "", "malformed section header %q: want [DEFAULT] or [SESSION]", trunc(line))
				cur, curName, refused = nil, "", true
			case name == "DEFAULT":
				if def != nil {
					el.add(lineNo, "", "second [DEFAULT] section (the first is at line %d)", def.line)
				} else if len(sessions) > 0 {
					el.add(lineNo, "", "[DEFAULT] must come before every [SESSION]")
				}
				cur, curName, refused = &section{line: lineNo, vals: map[string]entry{}}, "DEFAULT", false
				if def == nil && len(sessions) == 0 {
					def = cur
				}
			case name == "SESSION":
				cur, curName, refused = &section{line: lineNo, vals: map[string]entry{}}, "SESSION", false
				sessions = append(sessions, cur)
			default:
				el.add(lineNo, "", "unknown section %q: want [DEFAULT] or [SESSION]", trunc(line))
				cur, curName, refused = nil, "", true
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" {
				el.add(lineNo, "", "malformed line %q: want Key=Value, [DEFAULT], [SESSION] or a # comment", trunc(line))
				continue
			}
			if cur == nil {
				if !refused {
					el.add(lineNo, trunc(k), "key outside any section: put it under [DEFAULT] or [SESSION]")
				}
				continue // inside a refused section: already reported
			}
			scanKey(el, cur, curName, k, v, lineNo)
		}
	}
	if err := sc.Err(); err != nil {
		el.add(lineNo+1, "", "cannot read line: %v", err).Err = err
	}
	if len(sessions) == 0 && len(el.errs) == 0 {
		el.add(lineNo, "", "no [SESSION] section: fixtap needs at least one session")
	}
	return def, sessions
}

func scanKey(el *errList, cur *section, secName, k, v string, lineNo int) {
	if prev, dup := cur.vals[k]; dup {
		el.add(lineNo, k, "duplicated in this [%s] section (first set at line %d)", secName, prev.line)
		return
	}
	spec, _ := lookupKey(k)
	if spec == nil {
		e := el.add(lineNo, trunc(k), "unknown key")
		e.Suggestion = suggest(k)
		cur.vals[k] = entry{val: v, line: lineNo} // still catch a duplicate
		return
	}
	cur.vals[k] = entry{val: v, line: lineNo}
	if secName == "DEFAULT" && spec.scope&inDefault == 0 {
		el.add(lineNo, k, "not allowed in [DEFAULT]: set it in each [SESSION]")
	}
	if secName == "SESSION" && spec.scope&inSession == 0 {
		el.add(lineNo, k, "not allowed in [SESSION]: it applies to the whole tap, set it in [DEFAULT]")
	}
	if v == "" {
		el.add(lineNo, k, "empty value")
		return
	}
	if i := strings.IndexAny(v, "#;"); i > 0 && (v[i-1] == ' ' || v[i-1] == '\t') {
		el.add(lineNo, k, "value %q has a trailing comment: comments go on their own line", trunc(v))
		return
	}
	if msg := checkValue(spec, v); msg != "" {
		el.add(lineNo, k, "%s", msg)
		return
	}
	if k == config.SocketPrivateKeyFile {
		// A TLS key may be group-readable (an ssl-cert group), never
		// world-readable.
		if fi, err := os.Stat(v); err == nil && fi.Mode().Perm()&0o007 != 0 {
			el.add(lineNo, k, "TLS private key file %s has mode %04o: it must not be accessible to others (chmod o= %s)", v, fi.Mode().Perm(), v)
		}
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// view is a session's keys with [DEFAULT] merged in.
type view struct {
	sec, def *section
}

func (v view) get(k string) (string, int, bool) {
	if e, ok := v.sec.vals[k]; ok {
		return e.val, e.line, true
	}
	if v.def != nil {
		if e, ok := v.def.vals[k]; ok {
			return e.val, e.line, true
		}
	}
	return "", v.sec.line, false
}

// valid reports whether k is set to a value that passed scan.
func valid(el *errList, k string, line int) bool {
	return !el.bad[lineKey{line, k}]
}

// resolve builds the File from the scanned sections and checks what needs
// more than one line: required keys, referenced files, duplicates, clashes.
func resolve(el *errList, name string, def *section, secs []*section) *File {
	f := &File{Path: name, Tap: DefaultTapSettings()}
	if def == nil {
		line := 1
		if len(secs) > 0 {
			line = secs[0].line
		}
		def = &section{line: line, vals: map[string]entry{}}
	}
	f.defaults = map[string]string{}
	for k, e := range def.vals {
		f.defaults[k] = e.val
	}
	resolveTap(el, f, def)
	seen := map[quickfix.SessionID]int{}
	var firstAcc *view
	var firstAccLine int
	for _, sec := range secs {
		v := view{sec: sec, def: def}
		s := resolveSession(el, v)
		if s == nil {
			continue
		}
		if first, dup := seen[s.ID]; dup {
			_, line, _ := v.get(config.TargetCompID)
			el.add(line, config.TargetCompID, "duplicate session %s: the [SESSION] at line %d has the same BeginString, CompIDs, SubIDs, LocationIDs and SessionQualifier", s.ID, first)
			continue
		}
		seen[s.ID] = sec.line
		resolveXRef(el, v, s)
		if s.ConnectionType == Acceptor {
			if firstAcc == nil {
				firstAcc, firstAccLine = &v, sec.line
			} else {
				checkAcceptorGlobals(el, *firstAcc, firstAccLine, v)
			}
		}
		f.Sessions = append(f.Sessions, *s)
	}
	f.XRefGroups = groupXRef(el, f)
	checkPorts(el, f, def)
	return f
}

func resolveTap(el *errList, f *File, def *section) {
	t := &f.Tap
	get := func(k string) (string, int, bool) {
		e, ok := def.vals[k]
		if !ok {
			return "", def.line, false
		}
		return e.val, e.line, valid(el, k, e.line)
	}
	require := func(k string) (string, int, bool) {
		v, line, ok := get(k)
		if _, set := def.vals[k]; !set {
			el.add(line, k, "missing required key in [DEFAULT]")
		}
		return v, line, ok
	}
	if v, _, ok := require(KeyDataDir); ok {
		t.DataDir = v
	}
	if v, line, ok := require(KeySigningKeyFile); ok {
		t.SigningKeyFile = v
		if _, err := chain.LoadPrivateKeyFile(v); err != nil {
			var me *chain.KeyFileModeError
			if errors.As(err, &me) {
				el.add(line, KeySigningKeyFile, "signing key file %s has mode %04o: it must not be readable or writable by group or others (chmod 600 %s)", v, me.Mode.Perm(), v).Err = err
			} else {
				el.add(line, KeySigningKeyFile, "cannot load signing key: %v", err).Err = err
			}
		}
	}
	if v, _, ok := get(KeyDurability); ok {
		d, err := chain.ParseDurability(v)
		if err == nil {
			t.Durability = d
		}
	}
	if v, _, ok := get(KeyDurabilityInterval); ok {
		t.DurabilityInterval = mustDuration(v)
	}
	if v, _, ok := get(KeyTier); ok {
		t.Tier = v
	}
	t.PolicyID, _, _ = get(KeyPolicyID)
	t.PolicyIssuer, _, _ = get(KeyPolicyIssuer)
	t.PolicyURI, _, _ = get(KeyPolicyURI)
	t.VenueID, _, _ = get(KeyVenueID)
	if v, _, ok := get(KeyPseudonymizeAccounts); ok {
		t.PseudonymizeAccounts = v == "Y"
	}
	if v, line, ok := get(KeyAccountSecretFile); ok {
		t.AccountSecretFile = v
		if fi, err := os.Stat(v); err == nil {
			if fi.Mode().Perm()&0o077 != 0 {
				el.add(line, KeyAccountSecretFile, "account secret file %s has mode %04o: it must not be readable or writable by group or others (chmod 600 %s)", v, fi.Mode().Perm(), v)
			} else if fi.Size() < MinAccountSecretSize {
				el.add(line, KeyAccountSecretFile, "account secret file %s holds %d bytes: want at least %d", v, fi.Size(), MinAccountSecretSize)
			}
		}
	} else if _, set := def.vals[KeyAccountSecretFile]; !set && t.PseudonymizeAccounts {
		_, pline, _ := get(KeyPseudonymizeAccounts)
		el.add(pline, KeyAccountSecretFile, "missing: account numbers are pseudonymized with a secret; set AccountSecretFile, or PseudonymizeAccounts=N to record them in clear")
	}
	if v, _, ok := get(KeyMetricsAddress); ok {
		t.MetricsAddress = v
	}
	if v, _, ok := get(KeyLogFile); ok {
		t.LogFile = v
	}
	t.TSAURLs = numbered(el, def, KeyTSAURL, func(v string, line int) {
		if msg := checkTSAURL(v); msg != "" {
			el.add(line, "", "%s", msg) // key filled in by numbered
		}
	})
	if v, _, ok := get(KeyTSATrustRootsFile); ok {
		t.TSATrustRootsFile = v
	}
	if len(t.TSAURLs) > 0 && t.TSATrustRootsFile == "" {
		if _, set := def.vals[KeyTSATrustRootsFile]; !set {
			el.add(def.line, KeyTSATrustRootsFile, "missing: TSA tokens cannot be verified without trust roots")
		}
	}
	numbered(el, def, KeyReplica, func(v string, line int) {
		r, msg := parseReplica(v)
		if msg == "" && slices.ContainsFunc(t.Replicas, func(o Replica) bool { return o.Name == r.Name }) {
			msg = fmt.Sprintf("replica name %q is already used by another ReplicaN", r.Name)
		}
		if msg != "" {
			el.add(line, "", "%s", msg) // key filled in by numbered
			return
		}
		t.Replicas = append(t.Replicas, r)
	})
	if v, line, ok := get(KeyReplicaQuorum); ok {
		q, _ := strconv.Atoi(v)
		switch {
		case len(t.Replicas) == 0:
			el.add(line, KeyReplicaQuorum, "has no effect without Replica1")
		case q > len(t.Replicas):
			el.add(line, KeyReplicaQuorum, "%d is more than the %d replicas configured", q, len(t.Replicas))
		default:
			t.ReplicaQuorum = q
		}
	} else if len(t.Replicas) > 0 {
		t.ReplicaQuorum = min(2, len(t.Replicas))
	}
	if v, _, ok := get(KeyWitnessPolicyFile); ok {
		t.WitnessPolicyFile = v
	}
	if v, line, ok := get(KeyClockSources); ok {
		cs, msg := parseClockSources(v)
		if msg != "" {
			el.add(line, KeyClockSources, "%s", msg)
		} else {
			t.ClockSources = cs
		}
	}
	if v, _, ok := get(config.DynamicSessions); ok {
		t.DynamicSessions = v == "Y"
	}
	if v, line, ok := get(KeyDynamicSessionAllowList); ok {
		list, msg := parseAllowList(v)
		if msg != "" {
			el.add(line, KeyDynamicSessionAllowList, "%s", msg)
		} else {
			t.DynamicSessionAllowList = list
		}
		if !t.DynamicSessions {
			el.add(line, KeyDynamicSessionAllowList, "has no effect without DynamicSessions=Y")
		}
	} else if _, set := def.vals[KeyDynamicSessionAllowList]; !set && t.DynamicSessions {
		_, dline, _ := get(config.DynamicSessions)
		el.add(dline, KeyDynamicSessionAllowList, "missing: DynamicSessions=Y needs an allow-list of counterparty CompIDs")
	}
}

// numbered collects base1, base2, … from sec, refusing gaps (quickfix
// stops at the first missing number, silently ignoring the rest).
func numbered(el *errList, sec *section, base string, check func(v string, line int)) []string {
	maxN := 0
	for k := range sec.vals {
		if s, n := lookupKey(k); s != nil && s.name == base && n > maxN {
			maxN = n
		}
	}
	var out []string
	gap := 0
	for i := 1; i <= maxN; i++ {
		k := fmt.Sprintf("%s%d", base, i)
		e, ok := sec.vals[k]
		if !ok {
			if gap == 0 {
				gap = i
			}
			continue
		}
		if gap != 0 {
			el.add(e.line, k, "%s%d is missing: numbered keys must run 1, 2, 3 … without gaps", base, gap)
			continue
		}
		if !valid(el, k, e.line) {
			continue
		}
		n := len(el.errs)
		check(e.val, e.line)
		for _, er := range el.errs[n:] {
			er.Key = k
			el.bad[lineKey{er.Line, k}] = true
		}
		out = append(out, e.val)
	}
	return out
}

func resolveSession(el *errList, v view) *Session {
	s := &Session{Line: v.sec.line, Settings: map[string]string{}, own: map[string]string{}, lines: map[string]int{}}
	for k, e := range v.sec.vals {
		s.own[k] = e.val
	}
	if v.def != nil {
		for k, e := range v.def.vals {
			s.Settings[k], s.lines[k] = e.val, e.line
		}
	}
	for k, e := range v.sec.vals {
		s.Settings[k], s.lines[k] = e.val, e.line
	}
	ok := true
	req := func(k string) string {
		val, line, set := v.get(k)
		if !set {
			el.add(line, k, "missing required key (set it in this [SESSION] or in [DEFAULT])")
			ok = false
			return ""
		}
		if !valid(el, k, line) {
			ok = false
		}
		return val
	}
	opt := func(k string) string { val, _, _ := v.get(k); return val }
	s.ID.BeginString = req(config.BeginString)
	s.ID.SenderCompID = req(config.SenderCompID)
	s.ID.TargetCompID = req(config.TargetCompID)
	s.ConnectionType = req(KeyConnectionType)
	s.ID.SenderSubID = opt(config.SenderSubID)
	s.ID.SenderLocationID = opt(config.SenderLocationID)
	s.ID.TargetSubID = opt(config.TargetSubID)
	s.ID.TargetLocationID = opt(config.TargetLocationID)
	s.ID.Qualifier = opt(config.SessionQualifier)
	for _, k := range []string{config.SenderCompID, config.TargetCompID} {
		if val, line, set := v.get(k); set && val != "" {
			if msg := checkCompID(val); msg != "" {
				el.add(line, k, "%s", msg)
				ok = false
			}
		}
	}
	if s.ID.BeginString == quickfix.BeginStringFIXT11 {
		req(config.DefaultApplVerID)
	}
	switch s.ConnectionType {
	case Acceptor:
		req(config.SocketAcceptPort)
	case Initiator:
		req(config.SocketConnectHost)
		req(config.SocketConnectPort)
		req(config.HeartBtInt)
		checkConnectNumbered(el, v)
	}
	pair := func(a, b string) {
		_, la, sa := v.get(a)
		_, lb, sb := v.get(b)
		if sa && !sb {
			el.add(la, a, "set without %s: give both or neither", b)
		} else if sb && !sa {
			el.add(lb, b, "set without %s: give both or neither", a)
		}
	}
	pair(config.StartTime, config.EndTime)
	pair(config.StartDay, config.EndDay)
	pair(config.SocketCertificateFile, config.SocketPrivateKeyFile)
	checkTLSOn(el, v)
	if use, _, _ := v.get("UseDataDictionary"); use != "Y" {
		for _, k := range []string{config.DataDictionary, config.TransportDataDictionary, config.AppDataDictionary} {
			if _, line, set := v.get(k); set {
				el.add(line, k, "set while UseDataDictionary is not Y: quickfixgo would validate against it anyway; remove it or set UseDataDictionary=Y")
			}
		}
	}
	s.VenueID = opt(KeyVenueID)
	// Every event carries PolicyIdentification{PolicyID, Issuer}
	// (vcp-profile.md §1), so each session must resolve both.
	s.PolicyID = req(KeyPolicyID)
	s.PolicyIssuer = req(KeyPolicyIssuer)
	s.PolicyURI = opt(KeyPolicyURI)
	if val, _, _ := v.get(config.SocketInsecureSkipVerify); val == "Y" {
		s.Deviations = append(s.Deviations, config.SocketInsecureSkipVerify+"=Y")
	}
	for _, k := range SafeDefaultKeys() {
		if val, _, set := v.get(k); set && val != keyIndex[k].safe {
			s.Deviations = append(s.Deviations, k+"="+val)
		}
	}
	if !ok {
		return nil
	}
	return s
}

// checkConnectNumbered refuses gaps and unpaired hosts/ports among
// SocketConnectHostN/SocketConnectPortN.
func checkConnectNumbered(el *errList, v view) {
	merged := &section{line: v.sec.line, vals: map[string]entry{}}
	if v.def != nil {
		for k, e := range v.def.vals {
			merged.vals[k] = e
		}
	}
	for k, e := range v.sec.vals {
		merged.vals[k] = e
	}
	nop := func(string, int) {}
	hosts := numbered(el, merged, config.SocketConnectHost, nop)
	ports := numbered(el, merged, config.SocketConnectPort, nop)
	for i := len(ports); i < len(hosts); i++ {
		k := fmt.Sprintf("%s%d", config.SocketConnectHost, i+1)
		el.add(merged.vals[k].line, k, "set without %s%d", config.SocketConnectPort, i+1)
	}
	for i := len(hosts); i < len(ports); i++ {
		k := fmt.Sprintf("%s%d", config.SocketConnectPort, i+1)
		el.add(merged.vals[k].line, k, "set without %s%d", config.SocketConnectHost, i+1)
	}
}

// checkAcceptorGlobals: quickfixgo v0.9.11's Acceptor reads SocketAcceptHost
// and the TLS keys from the global settings only, so every acceptor
// session must resolve them to the same value.
func checkAcceptorGlobals(el *errList, first view, firstLine int, v view) {
	for i := range keyTable {
		spec := &keyTable[i]
		if !spec.acceptorGlobal {
			continue
		}
		a, _, aset := first.get(spec.name)
		b, line, bset := v.get(spec.name)
		if a != b || aset != bset {
			want := "unset"
			if aset {
				want = fmt.Sprintf("%q", a)
			}
			el.add(line, spec.name, "acceptor sessions must agree on %s (the acceptor [SESSION] at line %d has %s): quickfixgo uses one listener setting for all acceptors; set it in [DEFAULT]", spec.name, firstLine, want)
		}
	}
}

// checkTLSOn refuses TLS keys that quickfixgo v0.9.11 would silently ignore:
// without a certificate and key, or SocketUseSSL=Y, it makes no TLS config
// at all, so a lone SocketCAFile would mean a connection in clear.
func checkTLSOn(el *errList, v view) {
	_, _, cert := v.get(config.SocketCertificateFile)
	_, _, key := v.get(config.SocketPrivateKeyFile)
	useSSL, _, _ := v.get(config.SocketUseSSL)
	if cert || key || useSSL == "Y" {
		return
	}
	for _, k := range []string{config.SocketCAFile, config.SocketServerName, config.SocketMinimumTLSVersion, config.SocketInsecureSkipVerify} {
		if _, line, set := v.get(k); set {
			el.add(line, k, "TLS is off for the [SESSION] at line %d (no SocketCertificateFile/SocketPrivateKeyFile, SocketUseSSL not Y): quickfixgo would ignore this key and talk in clear; set SocketUseSSL=Y", v.sec.line)
		}
	}
}
