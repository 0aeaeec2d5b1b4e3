package tapconfig

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/quickfixgo/quickfix"
)

// MinAccountSecretSize is the least number of bytes AccountSecretFile must
// hold (128 bits of key for the pseudonymizing HMAC).
const MinAccountSecretSize = 16

// ErrNoSessions is returned (wrapped) by QuickfixSettings when the file has
// no session of the requested ConnectionType; test with errors.Is.
var ErrNoSessions = errors.New("tapconfig: no sessions of this connection type")

// File is a checked session file.
type File struct {
	Path     string
	Tap      TapSettings
	Sessions []Session
	// XRefGroups are the reconciliation groups (xref.go), in the order
	// their first session appears.
	XRefGroups []XRefGroup

	// defaults is the [DEFAULT] section as written.
	defaults map[string]string
}

// TapSettings are fixtap's own settings, from [DEFAULT]. Start from
// DefaultTapSettings; per-session overrides of VenueID and the policy keys
// live in Session.
type TapSettings struct {
	DataDir            string
	SigningKeyFile     string
	Durability         chain.Durability
	DurabilityInterval time.Duration
	Tier               string // TierSilver, TierGold or TierPlatinum
	PolicyID           string
	PolicyIssuer       string
	PolicyURI          string
	VenueID            string
	// AccountSecretFile is the path of the pseudonymization secret. The
	// secret itself is never loaded into this struct.
	AccountSecretFile    string
	PseudonymizeAccounts bool
	MetricsAddress       string   // host:port; empty means no metrics listener
	LogFile              string   // absolute path of the JSON log; empty means stderr
	TSAURLs              []string // TSAURL1, TSAURL2, … in order
	TSATrustRootsFile    string
	ClockSources         []ClockSource
	// DynamicSessions (QuickFIX's key) lets acceptors take sessions not
	// configured here, only from CompIDs in DynamicSessionAllowList.
	// quickfixgo does not know the allow-list: the tap's Logon callback
	// must refuse any other CompID.
	DynamicSessions         bool
	DynamicSessionAllowList []string
	// Replicas (Replica1, Replica2, …) receive the log in the C2SP
	// tlog-tiles layout; ReplicaQuorum of them must hold a tree size
	// before it counts as delivered (default min(2, len(Replicas))).
	Replicas      []Replica
	ReplicaQuorum int
	// WitnessPolicyFile, if set, is a Sigsum-format witness policy:
	// checkpoints go to its witnesses and are published to replicas and
	// anchored only once the policy's quorum has cosigned them.
	WitnessPolicyFile string
}

// DefaultTapSettings returns the tap's defaults: fsync per group commit
// (interval 5ms if switched to interval mode), tier SILVER, accounts
// pseudonymized, the kernel clock (adjtimex) as the only clock source.
func DefaultTapSettings() TapSettings {
	return TapSettings{
		Durability:           chain.SyncPerGroup,
		DurabilityInterval:   5 * time.Millisecond,
		Tier:                 TierSilver,
		PseudonymizeAccounts: true,
		ClockSources:         []ClockSource{{Kind: "adjtimex"}},
	}
}

// Validate checks the invariants of t (Parse also checks referenced files,
// which Validate does not touch).
func (t *TapSettings) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("tapconfig: "+format, args...)) }
	if !filepath.IsAbs(t.DataDir) {
		bad("DataDir %q: want an absolute path", t.DataDir)
	}
	if !filepath.IsAbs(t.SigningKeyFile) {
		bad("SigningKeyFile %q: want an absolute path", t.SigningKeyFile)
	}
	if _, err := chain.ParseDurability(t.Durability.String()); err != nil {
		errs = append(errs, fmt.Errorf("tapconfig: Durability: %w", err))
	}
	if t.DurabilityInterval <= 0 {
		bad("DurabilityInterval %v: want > 0", t.DurabilityInterval)
	}
	if !slices.Contains([]string{TierSilver, TierGold, TierPlatinum}, t.Tier) {
		bad("Tier %q: want SILVER, GOLD or PLATINUM", t.Tier)
	}
	if t.PseudonymizeAccounts && t.AccountSecretFile == "" {
		bad("PseudonymizeAccounts needs AccountSecretFile")
	}
	if t.MetricsAddress != "" {
		if _, _, ok := splitHostPort(t.MetricsAddress); !ok {
			bad("MetricsAddress %q: want host:port", t.MetricsAddress)
		}
	}
	for _, u := range t.TSAURLs {
		if msg := checkTSAURL(u); msg != "" {
			bad("TSAURL: %s", msg)
		}
	}
	if len(t.TSAURLs) > 0 && t.TSATrustRootsFile == "" {
		bad("TSAURL needs TSATrustRootsFile")
	}
	if len(t.ClockSources) == 0 {
		bad("no clock source")
	}
	if t.DynamicSessions && len(t.DynamicSessionAllowList) == 0 {
		bad("DynamicSessions needs DynamicSessionAllowList")
	}
	names := map[string]bool{}
	for _, r := range t.Replicas {
		if names[r.Name] {
			bad("Replica name %q used twice", r.Name)
		}
		names[r.Name] = true
	}
	if len(t.Replicas) > 0 && (t.ReplicaQuorum < 1 || t.ReplicaQuorum > len(t.Replicas)) {
		bad("ReplicaQuorum %d: want 1 ≤ quorum ≤ %d replicas", t.ReplicaQuorum, len(t.Replicas))
	}
	if len(t.Replicas) == 0 && t.ReplicaQuorum != 0 {
		bad("ReplicaQuorum without Replica1")
	}
	if t.WitnessPolicyFile != "" && !filepath.IsAbs(t.WitnessPolicyFile) {
		bad("WitnessPolicyFile %q: want an absolute path", t.WitnessPolicyFile)
	}
	return errors.Join(errs...)
}

// LogValue logs the settings without secrets: file paths are shown, TSA
// URLs have any password redacted, and the account secret is never held.
func (t TapSettings) LogValue() slog.Value {
	tsas := make([]string, len(t.TSAURLs))
	for i, u := range t.TSAURLs {
		tsas[i] = redactURL(u)
	}
	clocks := make([]string, len(t.ClockSources))
	for i, c := range t.ClockSources {
		clocks[i] = c.String()
	}
	return slog.GroupValue(
		slog.String("data_dir", t.DataDir),
		slog.String("signing_key_file", t.SigningKeyFile),
		slog.String("durability", t.Durability.String()),
		slog.Duration("durability_interval", t.DurabilityInterval),
		slog.String("tier", t.Tier),
		slog.String("policy_id", t.PolicyID),
		slog.String("venue_id", t.VenueID),
		slog.Bool("pseudonymize_accounts", t.PseudonymizeAccounts),
		slog.String("account_secret_file", t.AccountSecretFile),
		slog.String("metrics_address", t.MetricsAddress),
		slog.String("log_file", t.LogFile),
		slog.Any("tsa_urls", tsas),
		slog.String("tsa_trust_roots_file", t.TSATrustRootsFile),
		slog.Any("clock_sources", clocks),
		slog.Bool("dynamic_sessions", t.DynamicSessions),
		slog.Int("dynamic_session_allow_list", len(t.DynamicSessionAllowList)),
	)
}

// Session is one [SESSION] block with [DEFAULT] merged in.
type Session struct {
	// Line is the line of the [SESSION] header.
	Line           int
	ConnectionType string // Acceptor or Initiator
	ID             quickfix.SessionID
	// Tap keys, [SESSION] over [DEFAULT].
	VenueID, PolicyID, PolicyIssuer, PolicyURI string
	// XRefGroup and XRefRole: the reconciliation group the session
	// joins and its role there ("" for none; see File.XRefGroups).
	XRefGroup, XRefRole string
	// Deviations lists the safe-default keys this session sets to a
	// non-default value ("ResetOnLogon=Y"): accepted, since a venue may
	// require it, but to be logged at start.
	Deviations []string
	// Settings is every key of the session, [DEFAULT] merged, tap keys
	// included.
	Settings map[string]string

	// own is the [SESSION] block as written; lines maps a resolved key to
	// the line its value came from.
	own   map[string]string
	lines map[string]int
	xref  *xrefSession
}

// Validate checks the invariants of s.
func (s *Session) Validate() error {
	var errs []error
	if s.ID.SenderCompID == "" || s.ID.TargetCompID == "" {
		errs = append(errs, fmt.Errorf("tapconfig: session at line %d: SenderCompID and TargetCompID are required", s.Line))
	}
	switch s.ID.BeginString {
	case quickfix.BeginStringFIX42, quickfix.BeginStringFIX44, quickfix.BeginStringFIXT11:
	default:
		errs = append(errs, fmt.Errorf("tapconfig: session at line %d: BeginString %q: want FIX.4.2, FIX.4.4 or FIXT.1.1", s.Line, s.ID.BeginString))
	}
	if s.PolicyID == "" || s.PolicyIssuer == "" {
		errs = append(errs, fmt.Errorf("tapconfig: session at line %d: PolicyID and PolicyIssuer are required", s.Line))
	}
	if s.ConnectionType != Acceptor && s.ConnectionType != Initiator {
		errs = append(errs, fmt.Errorf("tapconfig: session at line %d: ConnectionType %q: want acceptor or initiator", s.Line, s.ConnectionType))
	}
	return errors.Join(errs...)
}

// LogValue logs the session's identity and deviations, never its raw keys.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("session", s.ID.String()),
		slog.String("connection_type", s.ConnectionType),
		slog.Int("line", s.Line),
		slog.String("venue_id", s.VenueID),
		slog.String("policy_id", s.PolicyID),
		slog.Any("deviations", s.Deviations),
	)
}

// Validate checks the whole file's invariants.
func (f *File) Validate() error {
	errs := []error{f.Tap.Validate()}
	if len(f.Sessions) == 0 {
		errs = append(errs, errors.New("tapconfig: no sessions"))
	}
	seen := map[quickfix.SessionID]bool{}
	for i := range f.Sessions {
		s := &f.Sessions[i]
		errs = append(errs, s.Validate())
		if seen[s.ID] {
			errs = append(errs, fmt.Errorf("tapconfig: duplicate session %s", s.ID))
		}
		seen[s.ID] = true
	}
	return errors.Join(errs...)
}

// LogValue logs the file path, the tap settings and the sessions.
func (f *File) LogValue() slog.Value {
	ids := make([]string, len(f.Sessions))
	for i, s := range f.Sessions {
		ids[i] = s.ConnectionType + " " + s.ID.String()
	}
	return slog.GroupValue(
		slog.String("path", f.Path),
		slog.Any("tap", f.Tap),
		slog.Any("sessions", ids),
	)
}

// SafeDefaultKeys returns the QuickFIX keys whose value the tap defaults
// for safety (design.md, Configuration): ResetOn*=N, PersistMessages=N,
// ValidateFieldsHaveValues=N, ValidateFieldsOutOfOrder=N, CheckLatency=N,
// UseDataDictionary=N.
func SafeDefaultKeys() []string {
	var ks []string
	for _, s := range keyTable {
		if s.safe != "" {
			ks = append(ks, s.name)
		}
	}
	return ks
}

// QuickfixSettings renders the sessions of one ConnectionType (Acceptor or
// Initiator) for quickfixgo. quickfixgo v0.9.11 ignores ConnectionType and
// NewAcceptor/NewInitiator take every session they are given, so the caller
// builds one Settings per type. The tap's own keys are left out, the safe
// defaults are set globally unless the file sets them, and for acceptors
// the listener keys quickfixgo reads only globally (SocketAcceptHost, TLS)
// are lifted into the global settings (Parse made sure acceptors agree).
func (f *File) QuickfixSettings(connType string) (*quickfix.Settings, error) {
	if connType != Acceptor && connType != Initiator {
		return nil, fmt.Errorf("tapconfig: connection type %q: want %q or %q", connType, Acceptor, Initiator)
	}
	qs := quickfix.NewSettings()
	g := qs.GlobalSettings()
	for _, k := range SafeDefaultKeys() {
		g.Set(k, keyIndex[k].safe)
	}
	for _, k := range slices.Sorted(maps.Keys(f.defaults)) {
		if spec, _ := lookupKey(k); spec != nil && !spec.tap {
			g.Set(k, f.defaults[k])
		}
	}
	lifted := false
	n := 0
	for i := range f.Sessions {
		s := &f.Sessions[i]
		if s.ConnectionType != connType {
			continue
		}
		n++
		if connType == Acceptor && !lifted {
			for _, spec := range keyTable {
				if v, ok := s.Settings[spec.name]; ok && spec.acceptorGlobal {
					g.Set(spec.name, v)
				}
			}
			lifted = true
		}
		ss := quickfix.NewSessionSettings()
		for _, k := range slices.Sorted(maps.Keys(s.own)) {
			if spec, _ := lookupKey(k); spec != nil && !spec.tap {
				ss.Set(k, s.own[k])
			}
		}
		id, err := qs.AddSession(ss)
		if err != nil {
			return nil, fmt.Errorf("tapconfig: session at line %d: %w", s.Line, err)
		}
		if id != s.ID {
			return nil, fmt.Errorf("tapconfig: session at line %d: quickfixgo sees %s, not %s", s.Line, id, s.ID)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("tapconfig: %s: %w", connType, ErrNoSessions)
	}
	return qs, nil
}

func mustDuration(v string) time.Duration {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0 // scan refused it already; Validate refuses 0
	}
	return d
}
