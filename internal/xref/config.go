package xref

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
)

// Group is one reconciliation group: the sessions of the firm's side
// (Local, of role LocalRole: INITIATOR or OBSERVER) and of the
// counterparty's (role COUNTERPARTY), as FIX.SessionID spells them.
type Group struct {
	Name         string
	LocalRole    string
	Local        []string
	Counterparty []string
	// ExecKeys match ExecutionReports, OrderKeys order copies (D, F, G):
	// VCP-TRADE member names, the first one present is the key.
	ExecKeys, OrderKeys []string
	ToleranceMs         int64
	Deadline            time.Duration
}

// Clock stamps the reconciler's events (the tap's clock adapter).
type Clock interface {
	Stamp() (int64, chain.ClockSyncStatus, *chain.Clock)
}

// Config configures a Reconciler. Start from DefaultConfig.
type Config struct {
	Groups []Group
	// MaxPending bounds the keys held (waiting for the other side, or
	// matched and kept for duplicate detection): at the bound the oldest
	// goes, as a TIMEOUT with Reason "evicted" if it was still waiting.
	MaxPending int
	// MaxRound caps the records read in one round.
	MaxRound int
	// SnapshotEvery: the state is saved after this many records read
	// (and at Shutdown); a restart replays the log from the newest save.
	SnapshotEvery int
	// MaxBusy is the share of one core, in percent, the Reconciler's rounds
	// may take: after a round (records read, outcomes queued, state saved)
	// that took d of wall time it rests d×(100−MaxBusy)/MaxBusy, so that on
	// a saturated machine ingest keeps the processor and the Reconciler
	// lags, catching up when ingest slows. Shutdown's catch-up does not
	// rest. 100 means no rest. (The outcomes' commits, by the log's
	// committer, are not in d.)
	MaxBusy int
	// Interval is the rest once caught up, so a round carries many events.
	Interval time.Duration
	Clock    Clock
	Policy   chain.PolicyIdentification
	VenueID  string
	Logger   *slog.Logger
}

// DefaultConfig returns the defaults: 65536 keys, rounds of 4096 records,
// a state save every 65536 records, rounds at most half the time (MaxBusy
// 50), 100 ms rests once caught up.
func DefaultConfig() Config {
	return Config{MaxPending: 1 << 16, MaxRound: 4096, SnapshotEvery: 1 << 16, MaxBusy: 50, Interval: 100 * time.Millisecond}
}

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("xref: invalid config")

// Validate checks the config.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.MaxPending < 1 || c.MaxPending > 1<<24 {
		bad("MaxPending %d, want 1..%d", c.MaxPending, 1<<24)
	}
	if c.MaxRound < 1 || c.MaxRound > 1<<20 {
		bad("MaxRound %d, want 1..%d", c.MaxRound, 1<<20)
	}
	if c.MaxBusy < 1 || c.MaxBusy > 100 {
		bad("MaxBusy %d%%, want 1..100", c.MaxBusy)
	}
	if c.SnapshotEvery < 1 {
		bad("SnapshotEvery %d, want ≥ 1", c.SnapshotEvery)
	}
	if c.Interval < 0 || c.Interval > time.Minute {
		bad("Interval %v, want 0..1m", c.Interval)
	}
	if c.Clock == nil {
		bad("no Clock")
	}
	if c.Policy.PolicyID == "" {
		bad("no PolicyID")
	}
	seen := map[string]string{}
	names := map[string]bool{}
	for _, g := range c.Groups {
		if g.Name == "" || names[g.Name] {
			bad("group name %q empty or repeated", g.Name)
		}
		names[g.Name] = true
		if g.LocalRole != chain.RoleInitiator && g.LocalRole != chain.RoleObserver {
			bad("group %q: LocalRole %q, want INITIATOR or OBSERVER", g.Name, g.LocalRole)
		}
		if len(g.Local) == 0 || len(g.Counterparty) == 0 {
			bad("group %q needs sessions on both sides", g.Name)
		}
		for _, s := range slices.Concat(g.Local, g.Counterparty) {
			if other, dup := seen[s]; dup {
				bad("session %s is in group %q and %q", s, other, g.Name)
			}
			seen[s] = g.Name
		}
		if len(g.ExecKeys) == 0 && len(g.OrderKeys) == 0 {
			bad("group %q has no match keys", g.Name)
		}
		for _, k := range slices.Concat(g.ExecKeys, g.OrderKeys) {
			if _, ok := keyFields[k]; !ok {
				bad("group %q: match key %q is not a VCP-TRADE identifier", g.Name, k)
			}
		}
		if g.ToleranceMs < 0 || g.Deadline <= time.Duration(g.ToleranceMs)*time.Millisecond {
			bad("group %q: Deadline %v must exceed ToleranceMs %d ms ≥ 0", g.Name, g.Deadline, g.ToleranceMs)
		}
	}
	return errors.Join(errs...)
}

// LogValue logs the config (nothing in it is secret).
func (c Config) LogValue() slog.Value {
	gs := make([]string, len(c.Groups))
	for i, g := range c.Groups {
		gs[i] = fmt.Sprintf("%s(%s %v / COUNTERPARTY %v, keys %v %v, tolerance %dms, deadline %v)",
			g.Name, g.LocalRole, g.Local, g.Counterparty, g.ExecKeys, g.OrderKeys, g.ToleranceMs, g.Deadline)
	}
	return slog.GroupValue(slog.Any("groups", gs), slog.Int("max_pending", c.MaxPending),
		slog.Int("max_round", c.MaxRound), slog.Int("snapshot_every", c.SnapshotEvery), slog.Int("max_busy_percent", c.MaxBusy), slog.Duration("interval", c.Interval))
}
