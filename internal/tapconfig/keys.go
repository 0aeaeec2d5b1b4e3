package tapconfig

import (
	"strings"

	"github.com/quickfixgo/quickfix/config"

	"github.com/fixtap/fixtap/internal/chain"
)

// kind is the type of a key's value.
type kind int

const (
	kString    kind = iota // any non-empty value
	kInt                   // decimal integer ≥ 0
	kPosInt                // decimal integer > 0
	kBool                  // Y or N (quickfix also takes y/n; the tap wants Y/N)
	kDuration              // Go duration, e.g. 5ms
	kSeconds               // integer seconds or a Go duration (quickfix takes both)
	kPort                  // TCP port 1..65535
	kEnum                  // one of spec.enum
	kFile                  // absolute path of an existing regular file
	kHostPort              // host:port
	kTimeOfDay             // HH:MM:SS
	kDay                   // Sunday..Saturday or Sun..Sat
	kTimeZone              // a tz database name such as UTC (not Local)
	kList                  // comma-separated list, validated elsewhere
	kPath                  // absolute path (a directory, or a file checked elsewhere)
)

// scope says where a key may appear.
type scope int

const (
	inDefault scope = 1 << iota
	inSession
	inBoth = inDefault | inSession
)

// keySpec describes one supported key.
type keySpec struct {
	name  string
	kind  kind
	scope scope
	enum  []string
	// tap marks fixtap's own keys: quickfixgo never sees them.
	tap bool
	// numbered keys also exist as name1, name2, … (contiguous from 1).
	numbered bool
	// acceptorGlobal keys are read by quickfixgo v0.9.11's Acceptor from the
	// global settings only, so all acceptor sessions must agree on them.
	acceptorGlobal bool
	// safe is the tap's safe default ("" = none); see SafeDefaultKeys.
	safe string
	// note is shown in docs/configuration.md.
	note string
}

// Tap tiers (VCP conformance tiers).
const (
	TierSilver   = "SILVER"
	TierGold     = "GOLD"
	TierPlatinum = "PLATINUM"
)

// ConnectionType values.
const (
	Acceptor  = "acceptor"
	Initiator = "initiator"
)

// The tap's own keys.
const (
	KeyConnectionType          = "ConnectionType" // QuickFIX key; quickfixgo v0.9.11 has no constant and ignores it
	KeyDataDir                 = "DataDir"
	KeySigningKeyFile          = "SigningKeyFile"
	KeyDurability              = "Durability"
	KeyDurabilityInterval      = "DurabilityInterval"
	KeyTier                    = "Tier"
	KeyPolicyID                = "PolicyID"
	KeyPolicyIssuer            = "PolicyIssuer"
	KeyPolicyURI               = "PolicyURI"
	KeyVenueID                 = "VenueID"
	KeyAccountSecretFile       = "AccountSecretFile"
	KeyPseudonymizeAccounts    = "PseudonymizeAccounts"
	KeyMetricsAddress          = "MetricsAddress"
	KeyLogFile                 = "LogFile"
	KeyTSAURL                  = "TSAURL"
	KeyTSATrustRootsFile       = "TSATrustRootsFile"
	KeyClockSources            = "ClockSources"
	KeyDynamicSessionAllowList = "DynamicSessionAllowList"
	KeyReplica                 = "Replica"
	KeyReplicaQuorum           = "ReplicaQuorum"
	KeyWitnessPolicyFile       = "WitnessPolicyFile"
)

// keyTable is every key fixtap accepts. Names are quickfixgo v0.9.11's
// config constants where one exists. Keys quickfixgo has but the tap does
// not support (file/SQL/Mongo stores and logs, proxies, the *Bytes TLS keys,
// UseTCPProxy, InChanCapacity, ...) are refused as unknown: the tap owns its
// store and log, and a setting that would be silently ignored is a lie.
var keyTable = []keySpec{
	// Session identity.
	{name: config.BeginString, kind: kEnum, scope: inBoth, enum: []string{"FIX.4.2", "FIX.4.4", "FIXT.1.1"}},
	{name: config.SenderCompID, kind: kString, scope: inBoth, note: "printable ASCII without spaces, `:` or `>`"},
	{name: config.SenderSubID, kind: kString, scope: inBoth},
	{name: config.SenderLocationID, kind: kString, scope: inBoth},
	{name: config.TargetCompID, kind: kString, scope: inSession, note: "printable ASCII without spaces, `:` or `>`"},
	{name: config.TargetSubID, kind: kString, scope: inSession},
	{name: config.TargetLocationID, kind: kString, scope: inSession},
	{name: config.SessionQualifier, kind: kString, scope: inSession},
	{name: config.DefaultApplVerID, kind: kEnum, scope: inBoth, enum: []string{"FIX.4.2", "FIX.4.4", "FIX.5.0", "FIX.5.0SP1", "FIX.5.0SP2", "4", "6", "7", "8", "9"}, note: "required for FIXT.1.1"},
	{name: KeyConnectionType, kind: kEnum, scope: inBoth, enum: []string{Acceptor, Initiator}, note: "required; quickfixgo v0.9.11 ignores it, the tap splits sessions by it"},

	// Schedule.
	{name: config.StartTime, kind: kTimeOfDay, scope: inBoth},
	{name: config.EndTime, kind: kTimeOfDay, scope: inBoth},
	{name: config.StartDay, kind: kDay, scope: inBoth},
	{name: config.EndDay, kind: kDay, scope: inBoth},
	{name: config.TimeZone, kind: kTimeZone, scope: inBoth},

	// Session behaviour.
	{name: config.HeartBtInt, kind: kPosInt, scope: inBoth, note: "seconds; required for an initiator"},
	{name: config.ReconnectInterval, kind: kSeconds, scope: inBoth},
	{name: config.LogonTimeout, kind: kSeconds, scope: inBoth},
	{name: config.LogoutTimeout, kind: kSeconds, scope: inBoth},
	{name: config.ResetOnLogon, kind: kBool, scope: inBoth, safe: "N"},
	{name: config.ResetOnLogout, kind: kBool, scope: inBoth, safe: "N"},
	{name: config.ResetOnDisconnect, kind: kBool, scope: inBoth, safe: "N"},
	{name: config.RefreshOnLogon, kind: kBool, scope: inBoth},
	{name: config.PersistMessages, kind: kBool, scope: inBoth, safe: "N"},
	{name: config.ValidateFieldsHaveValues, kind: kBool, scope: inBoth, safe: "N"},
	{name: config.ValidateFieldsOutOfOrder, kind: kBool, scope: inBoth, safe: "N"},
	{name: config.CheckUserDefinedFields, kind: kBool, scope: inBoth},
	{name: config.CheckLatency, kind: kBool, scope: inBoth, safe: "N"},
	{name: config.MaxLatency, kind: kPosInt, scope: inBoth},
	// UseDataDictionary is QuickFIX/C++'s key; quickfixgo validates whenever
	// a dictionary path is set, so Parse refuses a path without it.
	{name: "UseDataDictionary", kind: kBool, scope: inBoth, safe: "N", note: "QuickFIX/C++ key; the DataDictionary keys need it Y"},
	{name: config.DataDictionary, kind: kFile, scope: inBoth},
	{name: config.TransportDataDictionary, kind: kFile, scope: inBoth},
	{name: config.AppDataDictionary, kind: kFile, scope: inBoth},
	{name: config.ResendRequestChunkSize, kind: kInt, scope: inBoth},

	// Transport.
	{name: config.SocketAcceptPort, kind: kPort, scope: inBoth},
	{name: config.SocketAcceptHost, kind: kString, scope: inBoth, acceptorGlobal: true},
	{name: config.SocketConnectHost, kind: kString, scope: inBoth, numbered: true},
	{name: config.SocketConnectPort, kind: kPort, scope: inBoth, numbered: true},
	{name: config.SocketTimeout, kind: kSeconds, scope: inBoth},
	{name: config.SocketUseSSL, kind: kBool, scope: inBoth, acceptorGlobal: true},
	{name: config.SocketCertificateFile, kind: kFile, scope: inBoth, acceptorGlobal: true},
	{name: config.SocketPrivateKeyFile, kind: kFile, scope: inBoth, acceptorGlobal: true, note: "not accessible to others"},
	{name: config.SocketCAFile, kind: kFile, scope: inBoth, acceptorGlobal: true},
	{name: config.SocketInsecureSkipVerify, kind: kBool, scope: inBoth, acceptorGlobal: true},
	// quickfixgo v0.9.11 silently ignores "TLS13" and anything else it does
	// not know; older versions are unsafe. So only TLS12 is accepted (TLS
	// 1.3 is negotiated anyway when both ends support it).
	{name: config.SocketMinimumTLSVersion, kind: kEnum, scope: inBoth, enum: []string{"TLS12"}, acceptorGlobal: true, note: "quickfixgo ignores TLS13; 1.3 is still negotiated"},
	{name: config.SocketServerName, kind: kString, scope: inBoth, acceptorGlobal: true},
	// Read from [DEFAULT] only by quickfixgo's Acceptor.
	{name: config.DynamicSessions, kind: kBool, scope: inDefault, note: "needs DynamicSessionAllowList"},

	// fixtap's own keys.
	{name: KeyDataDir, kind: kPath, scope: inDefault, tap: true, note: "required; Pebble directory"},
	{name: KeySigningKeyFile, kind: kFile, scope: inDefault, tap: true, note: "required; Ed25519 PKCS #8 PEM, mode 0600 or 0400"},
	// One Pebble WAL serves every session, so durability is per tap, not
	// per session: a per-session value could not be honoured.
	{name: KeyDurability, kind: kEnum, scope: inDefault, enum: []string{"group", "interval"}, tap: true, note: "one WAL serves all sessions, so not per session"},
	{name: KeyDurabilityInterval, kind: kDuration, scope: inDefault, tap: true, note: "used with Durability=interval"},
	{name: KeyTier, kind: kEnum, scope: inDefault, enum: []string{TierSilver, TierGold, TierPlatinum}, tap: true, note: "default SILVER; sets the anchor cadence"},
	{name: KeyPolicyID, kind: kString, scope: inBoth, tap: true, note: "required per session (inherited)"},
	{name: KeyPolicyIssuer, kind: kString, scope: inBoth, tap: true, note: "required per session (inherited)"},
	{name: KeyPolicyURI, kind: kString, scope: inBoth, tap: true},
	{name: KeyVenueID, kind: kString, scope: inBoth, tap: true},
	{name: KeyAccountSecretFile, kind: kFile, scope: inDefault, tap: true, note: "at least 16 bytes, mode 0600 or 0400; required unless PseudonymizeAccounts=N"},
	{name: KeyPseudonymizeAccounts, kind: kBool, scope: inDefault, tap: true, note: "default Y"},
	{name: KeyMetricsAddress, kind: kHostPort, scope: inDefault, tap: true, note: "must not clash with an acceptor port; serves /metrics, /healthz, /readyz and a status page; unset: none"},
	{name: KeyLogFile, kind: kPath, scope: inDefault, tap: true, note: "JSON log, appended to and reopened on SIGHUP (logrotate); default stderr"},
	{name: KeyTSAURL, kind: kString, scope: inDefault, tap: true, numbered: true, note: "http or https URL; needs TSATrustRootsFile"},
	{name: KeyTSATrustRootsFile, kind: kFile, scope: inDefault, tap: true},
	{name: KeyClockSources, kind: kList, scope: inDefault, tap: true, note: "comma list of `chrony-udp:HOST:PORT`, `chrony-unix:PATH`, `ptp4l:PATH`, `adjtimex`; default adjtimex"},
	{name: KeyDynamicSessionAllowList, kind: kList, scope: inDefault, tap: true, note: "comma list of CompIDs, or absolute path of a file with one a line"},
	// Replication and witnessing (issue 10, docs/replication.md).
	{name: KeyReplica, kind: kString, scope: inDefault, tap: true, numbered: true, note: "Replica1, Replica2, …: name=…,endpoint=…,bucket=…,credentials=…[,region=…][,prefix=…][,path-style=Y]"},
	{name: KeyReplicaQuorum, kind: kPosInt, scope: inDefault, tap: true, note: "replicas that must hold a tree size before it counts as delivered; default min(2, replicas)"},
	{name: KeyWitnessPolicyFile, kind: kFile, scope: inDefault, tap: true, note: "Sigsum-format witness policy (witness NAME VKEY URL, group, quorum); checkpoints are published and anchored only once cosigned"},
	// Reconciliation (VCP-XREF, xref.go): per session, settings alike
	// across a group.
	{name: KeyXRefGroup, kind: kString, scope: inSession, tap: true, note: "reconciliation group the session joins; needs XRefRole"},
	{name: KeyXRefRole, kind: kEnum, scope: inSession, enum: []string{chain.RoleInitiator, chain.RoleCounterparty, chain.RoleObserver}, tap: true, note: "the firm's side (INITIATOR, or OBSERVER) or the venue/broker copy (COUNTERPARTY)"},
	{name: KeyXRefExecKeys, kind: kList, scope: inBoth, tap: true, note: "FIX tags matching ExecutionReports, first present wins; default 17,527; among 11, 17, 19, 37, 41, 527, 571"},
	{name: KeyXRefOrderKeys, kind: kList, scope: inBoth, tap: true, note: "FIX tags matching order copies (D, F, G); default 11,37"},
	{name: KeyXRefToleranceMs, kind: kInt, scope: inBoth, tap: true, note: "capture times further apart are a WARNING discrepancy; default 1000"},
	{name: KeyXRefDeadline, kind: kDuration, scope: inBoth, tap: true, note: "log capture time after which an unmatched event is a TIMEOUT; default 30s; longer than the tolerance"},
}

var keyIndex = func() map[string]*keySpec {
	m := make(map[string]*keySpec, len(keyTable))
	for i := range keyTable {
		m[keyTable[i].name] = &keyTable[i]
	}
	return m
}()

// lookupKey finds the spec of key, which may be a numbered variant
// (SocketConnectHost2). n is the number (0 for the plain name).
func lookupKey(key string) (spec *keySpec, n int) {
	if s, ok := keyIndex[key]; ok {
		if s.name == KeyTSAURL || s.name == KeyReplica {
			return nil, 0 // TSAURL1, Replica1, ... only
		}
		return s, 0
	}
	i := len(key)
	for i > 0 && key[i-1] >= '0' && key[i-1] <= '9' {
		i--
	}
	if i == len(key) || i == 0 || key[i] == '0' || len(key)-i > 3 {
		return nil, 0
	}
	s, ok := keyIndex[key[:i]]
	if !ok || !s.numbered {
		return nil, 0
	}
	for _, c := range key[i:] {
		n = n*10 + int(c-'0')
	}
	return s, n
}

// suggest returns the known key nearest to key (case-insensitive edit
// distance), or "" if none is close enough.
func suggest(key string) string {
	lk := strings.ToLower(key)
	best, bestD := "", 1<<30
	for i := range keyTable {
		name := keyTable[i].name
		if keyTable[i].name == KeyTSAURL || keyTable[i].name == KeyReplica {
			name = keyTable[i].name + "1"
		}
		d := editDistance(lk, strings.ToLower(name))
		if d < bestD {
			best, bestD = name, d
		}
	}
	limit := 1 + len(key)/6
	if limit > 3 {
		limit = 3
	}
	if bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20 // keys are short; don't spend time on garbage
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
