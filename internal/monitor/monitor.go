package monitor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/tessera/api/layout"
)

// ErrState is wrapped when the state file cannot be used: unreadable, not
// in its format, or holding a checkpoint the log key does not verify.
var ErrState = errors.New("monitor: unusable state")

// Monitor checks the replicas of one log, a round at a time.
//
// Lifecycle: New; then either Round (one round, as `fixtap monitor -once`)
// or Start, which runs a round at once and then every Config.Interval on
// its own goroutine, and Shutdown, which stops it between rounds (or
// abandons a round in progress when ctx ends) and returns. The state file
// is written at the end of every round. Handler serves /metrics and
// /healthz throughout.
type Monitor struct {
	cfg    Config
	f      *fetcher
	ignore map[string]bool

	roundMu sync.Mutex // one round at a time; guards state and rounds
	state   *State
	rounds  int

	mu        sync.Mutex // guards last, completed and failures (read by the collector)
	last      *Report
	completed int
	failures  map[[2]string]uint64

	reg *prometheus.Registry

	startOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
}

// New validates cfg, loads the state file (if any) and verifies the
// checkpoint it holds with the log key.
func New(cfg Config) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	st := &State{Format: StateFormat}
	if cfg.StatePath != "" {
		var err error
		if st, err = LoadState(cfg.StatePath); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
	}
	for _, l := range st.Logs {
		if l.Origin == cfg.Origin && l.Checkpoint != "" {
			if _, err := openCheckpoint([]byte(l.Checkpoint), cfg.LogKey, cfg.Origin); err != nil {
				return nil, fmt.Errorf("%w: %s: the stored checkpoint does not verify with the log key: %w", ErrState, cfg.StatePath, err)
			}
		}
	}
	m := &Monitor{
		cfg:      cfg,
		f:        newFetcher(cfg.HTTPClient, cfg.SigV4, cfg.Now),
		ignore:   map[string]bool{},
		state:    st,
		failures: map[[2]string]uint64{},
		reg:      prometheus.NewRegistry(),
	}
	for _, t := range cfg.SilenceIgnore {
		m.ignore[t] = true
	}
	m.reg.MustRegister(collector{m})
	return m, nil
}

// countsAsFIX: an event made from an inbound FIX message (it carries a
// Payload.FIX block; the tap's own SNC, AUD and ERR events do not) whose
// type is not ignored.
func (m *Monitor) countsAsFIX(e event) bool { return e.FIX && !m.ignore[e.EventType] }

// replicaRound is what one round learns of one replica.
type replicaRound struct {
	url  string // as configured, ending in "/"
	name string // redacted, for output
	prev *ReplicaState

	cp        *Checkpoint
	rr        *replicaReader
	cosigTime time.Time
	cosigBy   string

	consistentOK bool
	agreeFail    bool
	dataOK       bool
	data         *rangeResult
	dataLo       int64 // first bundle of the new range
	verified     int64
	sweep        int64
	age          time.Duration
	ageKnown     bool

	results map[string]Result
}

func (r *replicaRound) size() int64 {
	if r.cp == nil {
		return -1
	}
	return r.cp.Tree.N
}

func (r *replicaRound) set(check string, s Status, detail string, err error) {
	r.results[check] = Result{Replica: r.name, Check: check, Status: s, Size: r.size(), Detail: detail, Err: err}
}

// Round runs every check once and returns the report; it saves the state
// file when one is configured. The error is for what stops the monitor
// itself (the state file cannot be written, ctx ended), never for a failed
// check: those are in the report.
func (m *Monitor) Round(ctx context.Context) (*Report, error) {
	m.roundMu.Lock()
	defer m.roundMu.Unlock()
	now := m.cfg.Now()
	first := m.rounds == 0
	m.rounds++
	ls := m.state.log(m.cfg.Origin)
	var prev *Checkpoint
	if ls.Checkpoint != "" {
		var err error
		if prev, err = openCheckpoint([]byte(ls.Checkpoint), m.cfg.LogKey, m.cfg.Origin); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
	}

	rs := make([]*replicaRound, len(m.cfg.Replicas))
	for i, u := range m.cfg.Replicas {
		r := &replicaRound{url: u, name: redactURL(u), results: map[string]Result{}}
		if st := ls.replica(u); st != nil {
			c := *st
			r.prev = &c
		}
		rs[i] = r
	}

	// (1) Checkpoints, in parallel.
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { m.checkCheckpoint(ctx, r) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// (2) Consistency with the last verified checkpoint.
	m.checkConsistent(rs, prev)

	// (3) Agreement between replicas.
	head, split := m.checkAgree(rs)

	// (4) Data, in parallel.
	for _, r := range rs {
		wg.Go(func() { m.checkData(r, first) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	rep := &Report{Time: now, HeadSize: -1}
	if head != nil {
		rep.HeadSize = head.cp.Tree.N
	}

	// (6) Silence, from the events the trusted replicas hold.
	silence := m.checkSilence(ls, rs, head, split, rep)

	// (5) Cadence.
	for _, r := range rs {
		m.checkCadence(r, now)
	}

	// The state: each replica, then the log's checkpoint.
	for _, r := range rs {
		st := ReplicaState{URL: r.url, Since: formatStamp(now)}
		if r.prev != nil {
			st = *r.prev
		}
		if r.cp != nil {
			rolledBack := r.prev != nil && r.cp.Tree.N < int64(r.prev.Size)
			if !rolledBack && (r.prev == nil || int64(r.prev.Size) != r.cp.Tree.N) {
				st.Size, st.Since = uint64(r.cp.Tree.N), formatStamp(now)
			}
			st.Verified, st.Sweep = uint64(r.verified), uint64(r.sweep)
		}
		ls.setReplica(st)
	}
	if head != nil && !split && (prev == nil || head.cp.Tree.N >= prev.Tree.N) {
		ls.Checkpoint = string(head.cp.Note)
	}

	for _, r := range rs {
		for _, c := range Checks[:5] {
			if x, ok := r.results[c]; ok {
				rep.Results = append(rep.Results, x)
			}
		}
	}
	rep.Results = append(rep.Results, silence)
	rep.Duration = m.cfg.Now().Sub(now)

	var saveErr error
	if m.cfg.StatePath != "" {
		if saveErr = SaveState(m.cfg.StatePath, m.state); saveErr != nil {
			m.cfg.Logger.Error("monitor: cannot save the state", "err", saveErr)
		}
	}
	m.publish(rep, rs)
	return rep, saveErr
}

func (m *Monitor) checkCheckpoint(ctx context.Context, r *replicaRound) {
	u := r.url + layout.CheckpointPath
	b, err := m.f.get(ctx, u, maxCheckpoint, true)
	if err != nil {
		r.set(CheckCheckpoint, StatusFail, "", err)
		return
	}
	cp, err := openCheckpoint(b, m.cfg.LogKey, m.cfg.Origin)
	if err != nil {
		r.set(CheckCheckpoint, StatusFail, "", &CheckpointError{URL: redactURL(u), Err: err})
		return
	}
	r.cp = cp
	r.rr = newReplicaReader(ctx, m.f, r.url, cp.Tree.N)
	detail := fmt.Sprintf("size %d root %s signed by %s", cp.Tree.N, cp.Tree.Hash, m.cfg.LogKey.Name())
	if m.cfg.Policy == nil {
		r.set(CheckCheckpoint, StatusOK, detail+"; no witness policy", nil)
		return
	}
	res, err := m.cfg.Policy.Check(b, m.cfg.LogKey)
	var names []string
	if res != nil {
		for _, c := range res.Cosigs {
			names = append(names, c.Witness+"@"+c.Time.UTC().Format(time.RFC3339))
			if c.Time.After(r.cosigTime) {
				r.cosigTime, r.cosigBy = c.Time, c.Witness
			}
		}
	}
	if err != nil {
		r.set(CheckCheckpoint, StatusFail, detail, &CheckpointError{URL: redactURL(u), Err: err})
		return
	}
	r.set(CheckCheckpoint, StatusOK, fmt.Sprintf("%s; cosigned by [%s], policy %s met", detail, strings.Join(names, " "), m.cfg.Policy.Quorum()), nil)
}

// checkConsistent: each replica's checkpoint against the last one the
// monitor verified (prev): same size, same root; larger, a consistency
// proof from the replica's own tiles; smaller, a consistency proof from the
// tiles of a replica that has prev's size — the replica is behind, which
// is not a failure here — unless the replica itself served a larger tree
// before (a rollback) or no replica has prev's size any more (the log was
// rolled back).
func (m *Monitor) checkConsistent(rs []*replicaRound, prev *Checkpoint) {
	var sources []*replicaRound
	var behind []*replicaRound
	for _, r := range rs {
		if r.cp == nil {
			r.set(CheckConsistent, StatusSkip, "no verified checkpoint", nil)
			continue
		}
		if r.prev != nil && r.cp.Tree.N < int64(r.prev.Size) {
			r.set(CheckConsistent, StatusFail, "", &RollbackError{Replica: r.name, PreviousSize: int64(r.prev.Size), Current: r.cp.Tree})
			continue
		}
		switch {
		case prev == nil:
			r.consistentOK = true
			r.set(CheckConsistent, StatusOK, "no earlier checkpoint to check against: this one is the first", nil)
		case r.cp.Tree.N >= prev.Tree.N:
			if err := consistent(r.rr, r.cp.Tree.N, r.cp.Tree.Hash, prev.Tree.N, prev.Tree.Hash); err != nil {
				nameInconsistent(err, "state", r.name)
				r.set(CheckConsistent, StatusFail, "", err)
				continue
			}
			r.consistentOK = true
			sources = append(sources, r)
			if d := r.cp.Tree.N - prev.Tree.N; d == 0 {
				r.set(CheckConsistent, StatusOK, fmt.Sprintf("the last verified checkpoint (size %d)", prev.Tree.N), nil)
			} else {
				r.set(CheckConsistent, StatusOK, fmt.Sprintf("extends the last verified checkpoint (size %d) by %d entries", prev.Tree.N, d), nil)
			}
		default:
			behind = append(behind, r)
		}
	}
	for _, r := range behind {
		var src *replicaRound
		for _, s := range sources {
			if src == nil || s.cp.Tree.N > src.cp.Tree.N {
				src = s
			}
		}
		if src == nil {
			r.set(CheckConsistent, StatusFail, "", &RollbackError{Replica: r.name, PreviousSize: prev.Tree.N, PreviousRoot: prev.Tree.Hash, Current: r.cp.Tree, Log: true})
			continue
		}
		if err := consistent(src.rr, prev.Tree.N, prev.Tree.Hash, r.cp.Tree.N, r.cp.Tree.Hash); err != nil {
			nameInconsistent(err, r.name, "state")
			r.set(CheckConsistent, StatusFail, "", err)
			continue
		}
		r.consistentOK = true
		r.set(CheckConsistent, StatusOK, fmt.Sprintf("a prefix of the last verified checkpoint (size %d; proof from the tiles of %s)", prev.Tree.N, src.name), nil)
	}
}

func nameInconsistent(err error, oldFrom, newFrom string) {
	var ie *InconsistentError
	if errors.As(err, &ie) {
		ie.OldFrom, ie.NewFrom = oldFrom, newFrom
	}
}

// checkAgree: every replica against the head — the largest tree among the
// replicas consistent with the last verified checkpoint: same size, same
// root; different sizes, a consistency proof from the larger one's tiles.
// A smaller, consistent replica is "behind" (a warning: replicas are
// updated one after the other; the cadence check fails it once it stays
// behind for MaxAge). split reports any disagreement.
func (m *Monitor) checkAgree(rs []*replicaRound) (head *replicaRound, split bool) {
	for _, r := range rs {
		if r.cp != nil && r.consistentOK && (head == nil || r.cp.Tree.N > head.cp.Tree.N) {
			head = r
		}
	}
	var against []string
	var firstErr error
	for _, r := range rs {
		switch {
		case r.cp == nil:
			r.set(CheckAgree, StatusSkip, "no verified checkpoint", nil)
			continue
		case len(rs) == 1:
			r.set(CheckAgree, StatusOK, "the only replica", nil)
			continue
		case head == nil:
			r.set(CheckAgree, StatusSkip, "no replica is consistent with the last verified checkpoint", nil)
			continue
		case r == head:
			continue // below
		}
		small, large := r, head
		if r.cp.Tree.N > head.cp.Tree.N {
			small, large = head, r
		}
		if err := consistent(large.rr, large.cp.Tree.N, large.cp.Tree.Hash, small.cp.Tree.N, small.cp.Tree.Hash); err != nil {
			nameInconsistent(err, small.name, large.name)
			r.set(CheckAgree, StatusFail, "disagrees with "+head.name, err)
			r.agreeFail, split = true, true
			against = append(against, r.name)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		switch d := head.cp.Tree.N - r.cp.Tree.N; {
		case d > 0:
			r.set(CheckAgree, StatusWarn, fmt.Sprintf("behind %s (size %d) by %d entries; consistent", head.name, head.cp.Tree.N, d), nil)
		case d < 0:
			r.set(CheckAgree, StatusOK, fmt.Sprintf("ahead of %s (size %d) by %d entries; consistent", head.name, head.cp.Tree.N, -d), nil)
		default:
			r.set(CheckAgree, StatusOK, "same tree as "+head.name, nil)
		}
	}
	if head != nil && len(rs) > 1 {
		if len(against) > 0 {
			head.set(CheckAgree, StatusFail, "split view: disagrees with "+strings.Join(against, ", "), firstErr)
			head.agreeFail = true
		} else {
			head.set(CheckAgree, StatusOK, "the largest verified tree; every other replica agrees", nil)
		}
	}
	return head, split
}

// checkData re-hashes the replica's new entry bundles (those above what it
// verified before) to its level-0 tiles, proves the tiles to its signed
// root, checks the events against the entries, and sweeps SweepBundles
// older bundles (verifyRange).
func (m *Monitor) checkData(r *replicaRound, first bool) {
	if r.prev != nil {
		r.verified, r.sweep = int64(r.prev.Verified), int64(r.prev.Sweep)
	}
	if r.cp == nil {
		r.set(CheckData, StatusSkip, "no verified checkpoint", nil)
		return
	}
	n := r.cp.Tree.N
	bundles := (n + 1<<tileHeight - 1) >> tileHeight
	lo := r.verified
	switch {
	case first && m.cfg.Full:
		lo = 0
	case r.prev == nil && n > 0:
		lo = (n - 1) >> tileHeight << tileHeight // trust on first use, up to the last bundle
	}
	loB, hiB := lo>>tileHeight, bundles
	if lo >= n {
		loB = bundles
	}
	hiB = min(hiB, loB+int64(m.cfg.MaxBundles))
	res, err := verifyRange(r.rr, r.cp.Tree.Hash, loB, hiB, m.countsAsFIX)
	if err != nil {
		if r.prev == nil {
			r.verified = lo
		}
		r.set(CheckData, StatusFail, fmt.Sprintf("entry bundles [%d, %d)", loB, hiB), err)
		return
	}
	r.data, r.dataLo = res, loB
	r.verified = min(hiB<<tileHeight, n)
	detail := fmt.Sprintf("entries [%d, %d) re-hash to the tiles and the root; their events match", min(loB<<tileHeight, n), r.verified)
	if loB == hiB {
		detail = "no new entries"
	}
	if hiB < bundles {
		detail += fmt.Sprintf("; catching up, %d bundles left", bundles-hiB)
	}
	if m.cfg.SweepBundles > 0 && loB > 0 {
		c := r.sweep
		if c >= loB {
			c = 0
		}
		sHi := min(loB, c+int64(m.cfg.SweepBundles))
		if _, err := verifyRange(r.rr, r.cp.Tree.Hash, c, sHi, m.countsAsFIX); err != nil {
			r.set(CheckData, StatusFail, fmt.Sprintf("sweep of entry bundles [%d, %d)", c, sHi), err)
			r.sweep = c
			return
		}
		r.sweep = sHi
		detail += fmt.Sprintf("; sweep re-checked bundles [%d, %d)", c, sHi)
	}
	r.dataOK = true
	r.set(CheckData, StatusOK, detail, nil)
}

// checkCadence: the replica's newest checkpoint must be younger than
// MaxAge — by its newest cosignature's timestamp when it has any (a
// witness's signed word for when it was current), else by when the
// monitor first saw the replica at this size.
func (m *Monitor) checkCadence(r *replicaRound, now time.Time) {
	var since time.Time
	var evidence string
	size := r.size()
	switch {
	case !r.cosigTime.IsZero():
		since, evidence = r.cosigTime, "cosignature by "+r.cosigBy
	case r.cp != nil && r.prev != nil && int64(r.prev.Size) == r.cp.Tree.N:
		since, _ = parseStamp(r.prev.Since)
		evidence = "first seen at this size"
	case r.cp != nil:
		since, evidence = now, "first seen at this size"
	case r.prev != nil:
		since, _ = parseStamp(r.prev.Since)
		size = int64(r.prev.Size)
		evidence = "first seen at this size; no verified checkpoint this round"
	default:
		r.set(CheckCadence, StatusSkip, "never read a checkpoint", nil)
		return
	}
	age := max(now.Sub(since), 0)
	r.age, r.ageKnown = age, true
	if age > m.cfg.MaxAge {
		r.set(CheckCadence, StatusFail, "", &StaleError{Replica: r.name, Size: size, Age: age, MaxAge: m.cfg.MaxAge, Since: since, Evidence: evidence})
		return
	}
	r.set(CheckCadence, StatusOK, fmt.Sprintf("checkpoint age %v (%s), at most %v", age.Round(time.Second), evidence, m.cfg.MaxAge), nil)
}

// checkSilence updates what the log state knows of the newest event and
// FIX-derived event from the replicas trusted this round, and checks the
// silence of FIX during trading windows. Time here is log time: the
// capture time of the newest event in the log (any type: the tap's SNC
// clock events arrive every minute even when FIX is silent). A replica
// that stopped updating is the cadence check's business, not this one's.
func (m *Monitor) checkSilence(ls *LogState, rs []*replicaRound, head *replicaRound, split bool, rep *Report) Result {
	res := Result{Replica: LogWide, Check: CheckSilence, Size: rep.HeadSize}
	if !split {
		for _, r := range rs {
			if r.data == nil || !r.consistentOK || r.data.Entries == 0 {
				continue
			}
			if ls.LastEvent == nil || r.data.Last.Index > ls.LastEvent.Index {
				e := r.data.Last
				ls.LastEvent = &e
			}
			if f := r.data.LastFIX; f != nil && (ls.FIXSince == nil || f.Index > ls.FIXSince.Index) {
				e := *f
				ls.FIXSince = &e
			}
		}
	}
	if len(m.cfg.Windows) == 0 {
		res.Status, res.Detail = StatusSkip, "no trading window configured"
		return res
	}
	if ls.LastEvent == nil {
		res.Status, res.Detail = StatusSkip, "no event read yet"
		return res
	}
	logTime := time.Unix(0, ls.LastEvent.TimeNs)
	open, in := inWindows(m.cfg.Windows, logTime)
	rep.InWindow = in
	if in && ls.FIXSince == nil && head != nil && head.dataOK && !split {
		if err := m.scanBack(ls, head, open); err != nil {
			res.Status, res.Err = StatusFail, err
			res.Detail = "looking back for the newest FIX-derived event"
			return res
		}
	}
	if ls.FIXSince != nil {
		rep.Silence, rep.SilenceKnown = logTime.Sub(time.Unix(0, ls.FIXSince.TimeNs)), true
	}
	if !in {
		res.Status, res.Detail = StatusOK, fmt.Sprintf("outside the trading windows at log time %s", logTime.UTC().Format(time.RFC3339))
		return res
	}
	from := open
	if ls.FIXSince != nil && time.Unix(0, ls.FIXSince.TimeNs).After(open) {
		from = time.Unix(0, ls.FIXSince.TimeNs)
	}
	silence := max(logTime.Sub(from), 0)
	var window string
	for _, w := range m.cfg.Windows {
		if o, _, ok := w.At(logTime); ok && o.Equal(open) {
			window = w.String()
			break
		}
	}
	if silence > m.cfg.Silence {
		e := &SilenceError{Window: window, Opened: open, LogTime: *ls.LastEvent, Silence: silence, Max: m.cfg.Silence}
		if ls.FIXSince != nil {
			e.LastFIX = *ls.FIXSince
		}
		res.Status, res.Err = StatusFail, e
		return res
	}
	res.Status, res.Detail = StatusOK, fmt.Sprintf("in window %q: FIX-derived events within %v (silence %v) at log time %s",
		window, m.cfg.Silence, silence.Round(time.Second), logTime.UTC().Format(time.RFC3339))
	return res
}

// scanBack reads the head replica's bundles backwards from below the
// range this round checked, until a FIX-derived event, an event before
// the window opened, index 0, or ScanBack bundles. Every bundle read is
// verified like any other (verifyRange).
func (m *Monitor) scanBack(ls *LogState, head *replicaRound, open time.Time) error {
	b := head.dataLo
	if head.data != nil && head.data.Entries > 0 {
		b = int64(head.data.First.Index) >> tileHeight
	}
	bound := ls.LastEvent
	if head.data != nil && head.data.Entries > 0 {
		f := head.data.First
		bound = &f
	}
	for k := 0; k < m.cfg.ScanBack && b > 0; k++ {
		b--
		res, err := verifyRange(head.rr, head.cp.Tree.Hash, b, b+1, m.countsAsFIX)
		if err != nil {
			return err
		}
		if res.LastFIX != nil {
			f := *res.LastFIX
			ls.FIXSince = &f
			return nil
		}
		f := res.First
		bound = &f
		if time.Unix(0, res.First.TimeNs).Before(open) {
			break
		}
	}
	// None found: no FIX-derived event since at least bound's time.
	c := *bound
	ls.FIXSince = &c
	return nil
}
