package monitor

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Check names, as they appear in output lines and metric labels.
const (
	CheckCheckpoint = "checkpoint" // (1) log signature, origin, witness policy
	CheckConsistent = "consistent" // (2) with the last verified checkpoint; no rollback
	CheckAgree      = "agree"      // (3) with the other replicas
	CheckData       = "data"       // (4) entries → level-0 tiles → root; events → entries
	CheckCadence    = "cadence"    // (5) the newest checkpoint is recent enough
	CheckSilence    = "silence"    // (6) FIX-derived events during trading windows
)

// Checks lists the check names in the order they are reported.
var Checks = []string{CheckCheckpoint, CheckConsistent, CheckAgree, CheckData, CheckCadence, CheckSilence}

// Status is a check's outcome.
type Status string

const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn" // holds, but worth a look (a replica behind the others)
	StatusFail Status = "fail"
	StatusSkip Status = "skip" // could not run (what it needs failed, or nothing to check)
)

// LogWide is the replica field of a check of the log as a whole (silence).
const LogWide = "-"

// Result is one check of one replica (or of the log, Replica = LogWide).
type Result struct {
	Replica string // base URL without credentials
	Check   string
	Status  Status
	Size    int64 // the replica's tree size this round, -1 unknown
	Detail  string
	Err     error // the evidence of a failure: a typed error of this package
}

// Line is the result in its stable, greppable form:
//
//	fixtap-monitor check=<check> replica=<url or -> status=<ok|warn|fail|skip> size=<n or -> detail="<quoted>"
func (r Result) Line() string {
	size := "-"
	if r.Size >= 0 {
		size = strconv.FormatInt(r.Size, 10)
	}
	d := r.Detail
	if r.Err != nil {
		if d != "" {
			d += ": "
		}
		d += r.Err.Error()
	}
	return fmt.Sprintf("fixtap-monitor check=%s replica=%s status=%s size=%s detail=%s",
		r.Check, r.Replica, r.Status, size, strconv.Quote(d))
}

// Report is one round's results.
type Report struct {
	Time     time.Time
	Duration time.Duration
	Results  []Result
	// HeadSize is the largest verified tree size among the replicas, -1
	// when none verified.
	HeadSize int64
	// Silence is the time between the newest FIX-derived event and the
	// newest event of any type, when both are known.
	Silence      time.Duration
	SilenceKnown bool
	InWindow     bool
	// Replicas are the per-replica figures, in configuration order.
	Replicas []ReplicaReport
}

// OK reports whether no check failed.
func (r *Report) OK() bool {
	for _, x := range r.Results {
		if x.Status == StatusFail {
			return false
		}
	}
	return true
}

// Failed returns the failed results.
func (r *Report) Failed() []Result {
	var out []Result
	for _, x := range r.Results {
		if x.Status == StatusFail {
			out = append(out, x)
		}
	}
	return out
}

// Find returns the result of check for replica (a configured URL, or
// LogWide), and false if there is none.
func (r *Report) Find(replica, check string) (Result, bool) {
	if replica != LogWide {
		replica = redactURL(normalizeBase(replica))
	}
	for _, x := range r.Results {
		if x.Check == check && x.Replica == replica {
			return x, true
		}
	}
	return Result{}, false
}

// String is every line.
func (r *Report) String() string {
	var b strings.Builder
	for _, x := range r.Results {
		b.WriteString(x.Line())
		b.WriteByte('\n')
	}
	return b.String()
}

func normalizeBase(s string) string {
	if strings.HasSuffix(s, "/") {
		return s
	}
	return s + "/"
}
