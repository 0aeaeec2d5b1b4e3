package verify

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// collector runs the checks that need events in order: seq order and
// density, chain links, the recomputed tree (full bundles) or inclusion
// proofs (partial ones), MerkleRoot, and the completeness and policy
// accounting.
type collector struct {
	v       *verifier
	n       int
	last    *evResult
	lastSeq uint64
	tree    treeBuilder
	nextCP  int // index of the next checkpoint the tree reaches
	epochs  map[epochKey]*epochState
	hashes  map[uint64][32]byte // proof bundles: the events' hashes, for their tlog-proofs
	xref    xrefState
}

type epochKey struct {
	session string
	epoch   int64
}

type msn struct {
	n     int64
	seq   uint64
	id    string
	ahead bool
}

type epochState struct {
	start    int64 // first MsgSeqNum the epoch expects
	closedAt int64 // 0 while open; else MsgSeqNums ≥ closedAt were never delivered
	got      []msn
	gaps     [][2]int64 // accounted [from, to) never delivered (applied gap fills)
}

func (c *collector) epoch(k epochKey) *epochState {
	e := c.epochs[k]
	if e == nil {
		e = &epochState{start: 1}
		c.epochs[k] = e
	}
	return e
}

func (c *collector) add(line int, r *evResult) {
	v := c.v
	c.n++
	if r.err != "" {
		v.fail(Failure{Layer: "event", Check: "parse", Seq: seqPtr(r), Detail: fmt.Sprintf("events.jsonl line %d: %s", line+1, r.err)})
		return
	}
	for _, f := range r.failures {
		if f.Check == "raw-ok" {
			v.r.RawChecked++
			continue
		}
		v.fail(f)
	}
	if !v.opts.SkipSignatures {
		v.r.Signatures++
	}
	v.r.Events++
	if !v.opts.HashesOnly { // which reads no Header field
		v.r.EventTypes[r.hdr.EventType]++
		v.r.ClockStatuses[r.hdr.ClockSyncStatus]++
	}
	v.times = append(v.times, r.time)
	v.seqs = append(v.seqs, r.seq)
	v.ids = append(v.ids, r.id)
	if !r.hasSeq {
		return
	}
	seq := r.seq
	// Order: seqs strictly increase; a full bundle is dense from 0.
	switch {
	case c.last == nil && v.m.Kind == KindFull && seq != 0:
		v.failEvent("missing", seq, c.idOf(r), "a full bundle starts at seq 0; seqs 0..%d are missing", seq-1)
	case c.last != nil && seq <= c.lastSeq:
		v.failEvent("order", seq, c.idOf(r), "seq %d follows seq %d: events out of order or repeated", seq, c.lastSeq)
	case c.last != nil && v.m.Kind == KindFull && seq != c.lastSeq+1:
		v.failEvent("missing", seq, c.idOf(r), "seqs %d..%d are missing before this event", c.lastSeq+1, seq-1)
	}
	if line == 0 && seq != v.m.FirstSeq {
		v.failEvent("missing", seq, c.idOf(r), "first event is seq %d, manifest says FirstSeq %d", seq, v.m.FirstSeq)
	}
	// Chain: PrevHash of seq is the EventHash of seq-1 whenever both are here.
	if seq == 0 && r.prev != ([32]byte{}) {
		v.failEvent("PrevHash", seq, c.idOf(r), "the genesis event's PrevHash must be 64 zeros, is %x", r.prev)
	}
	if c.last != nil && c.lastSeq+1 == seq && r.prev != c.last.hash {
		v.failEvent("PrevHash", seq, c.idOf(r), "PrevHash %x is not the EventHash %x of seq %d (EventID %s)", r.prev, c.last.hash, c.lastSeq, c.idOf(c.last))
	}
	// Tree.
	first := c.firstCovering(seq)
	if first < 0 {
		v.fail(Failure{Layer: "tree", Check: "inclusion", Seq: u64p(seq), EventID: c.idOf(r), Detail: fmt.Sprintf("no checkpoint in the bundle covers seq %d (newest %d)", seq, v.m.TreeSize)})
	} else if cpt := &v.cps[first]; cpt.ok && string(r.merkle) != cpt.rootHex {
		v.fail(Failure{Layer: "tree", Check: "MerkleRoot", Seq: u64p(seq), EventID: c.idOf(r), Detail: fmt.Sprintf("Security.MerkleRoot %q, want the root %x of checkpoint %d, the first covering the event", r.merkle, cpt.root, cpt.size)})
	}
	if v.m.Kind == KindFull {
		if seq == c.tree.n {
			c.tree.add(r.leaf)
			c.checkRoots()
		}
	} else {
		c.checkInclusion(seq, r)
	}
	if v.m.Kind == KindProof {
		if c.hashes == nil {
			c.hashes = map[uint64][32]byte{}
		}
		c.hashes[seq] = r.hash
	}
	if v.opts.HashesOnly {
		c.last, c.lastSeq = r, seq
		return
	}
	c.collectXRef(r)
	c.accountSession(r)
	c.policy(r)
	c.last, c.lastSeq = r, seq
}

// idOf is the event's EventID. A hashes-only pass reads the Header only
// here, when a check must name the event.
func (c *collector) idOf(r *evResult) string {
	if r.id == "" && r.rawHdr != nil {
		var h header
		if extractHeader(r.rawHdr, &h) == nil {
			r.id = h.EventID
		}
	}
	return r.id
}

func seqPtr(r *evResult) *uint64 {
	if r.hasSeq {
		return u64p(r.seq)
	}
	return nil
}

// firstCovering returns the index of the first bundle checkpoint whose
// tree holds seq, or -1.
func (c *collector) firstCovering(seq uint64) int {
	cps := c.v.cps
	i := sort.Search(len(cps), func(i int) bool { return cps[i].size > seq })
	if i == len(cps) {
		return -1
	}
	return i
}

// checkRoots compares the recomputed tree with each checkpoint it reaches.
func (c *collector) checkRoots() {
	v := c.v
	for c.nextCP < len(v.cps) && v.cps[c.nextCP].size <= c.tree.n {
		cpt := v.cps[c.nextCP]
		c.nextCP++
		if cpt.size != c.tree.n || !cpt.ok {
			continue
		}
		if root := c.tree.root(); root != cpt.root {
			v.fail(Failure{Layer: "tree", Check: "root", TreeSize: u64p(cpt.size),
				Detail: fmt.Sprintf("the events recompute root %x, the signed checkpoint says %x", root, cpt.root)})
		}
	}
}

func (c *collector) checkInclusion(seq uint64, r *evResult) {
	v := c.v
	p, ok := v.proofs[seq]
	fail := func(format string, args ...any) {
		v.fail(Failure{Layer: "tree", Check: "inclusion", Seq: u64p(seq), EventID: c.idOf(r), Detail: fmt.Sprintf(format, args...)})
	}
	if !ok {
		fail("no inclusion proof in proofs.jsonl")
		return
	}
	i, ok := v.cpBy[p.TreeSize]
	if !ok || !v.cps[i].ok {
		fail("proof is against tree size %d, which is not a verified checkpoint of the bundle", p.TreeSize)
		return
	}
	hashes, err := decodeHashes(p.Hashes)
	if err != nil {
		fail("%v", err)
		return
	}
	if err := tlog.CheckRecord(hashes, int64(p.TreeSize), tlog.Hash(v.cps[i].root), int64(seq), tlog.Hash(r.leaf)); err != nil {
		fail("not included in checkpoint %d: %v", p.TreeSize, err)
		return
	}
	v.r.Inclusion++
}

// accountSession gathers the MsgSeqNum facts of one event.
func (c *collector) accountSession(r *evResult) {
	p := &r.pay
	if t := p.TapSession; t != nil {
		if t.Epoch == t.PrevEpoch {
			e := c.epoch(epochKey{t.SessionID, t.Epoch})
			if t.NextExpected > t.PrevNextExpected {
				e.gaps = append(e.gaps, [2]int64{t.PrevNextExpected, t.NextExpected})
			}
		} else {
			old := c.epoch(epochKey{t.SessionID, t.PrevEpoch})
			old.closedAt = t.PrevNextExpected
			c.epoch(epochKey{t.SessionID, t.Epoch}).start = t.NextExpected
		}
	}
	f := p.FIX
	if f == nil || f.MsgSeqNum <= 0 || f.Unprocessed || f.SessionID == "" {
		return
	}
	if p.ErrorDetails != nil && p.ErrorDetails.ErrorCode == "ERR_PARSE" {
		return // bytes the engine could not parse consumed no MsgSeqNum
	}
	e := c.epoch(epochKey{f.SessionID, f.Epoch})
	e.got = append(e.got, msn{n: f.MsgSeqNum, seq: r.seq, id: r.id, ahead: f.AheadOfSequence})
}

func (c *collector) policy(r *evResult) {
	v := c.v
	pi := r.pay.PolicyIdentification
	if pi == nil {
		return
	}
	req, ok := tierRequires[pi.ConformanceTier]
	if !ok {
		return
	}
	if statusRank[r.hdr.ClockSyncStatus] >= statusRank[req] {
		return
	}
	v.r.PolicyCount++
	if len(v.r.PolicyFindings) < v.maxF {
		v.r.PolicyFindings = append(v.r.PolicyFindings, PolicyFinding{Seq: r.seq, EventID: r.id, Status: r.hdr.ClockSyncStatus, Tier: pi.ConformanceTier, Required: req})
	}
	if v.opts.StrictPolicy {
		v.fail(Failure{Layer: "policy", Check: "clock", Seq: u64p(r.seq), EventID: r.id,
			Detail: fmt.Sprintf("ClockSyncStatus %s is below %s, which tier %s requires", r.hdr.ClockSyncStatus, req, pi.ConformanceTier)})
	}
}

// finish runs the checks that need every event: the log's end, and
// MsgSeqNum completeness per session epoch.
func (c *collector) finish() {
	v := c.v
	if c.n == 0 {
		v.fail(Failure{Layer: "event", Check: "missing", Detail: "events.jsonl holds no event"})
		return
	}
	if v.m.Kind == KindProof {
		v.checkTlogProofs(c.hashes)
	}
	c.checkXRefs()
	if uint64(c.n) != v.m.Events {
		v.fail(Failure{Layer: "event", Check: "missing", Detail: fmt.Sprintf("events.jsonl holds %d events, manifest says %d", c.n, v.m.Events)})
	}
	if c.last != nil && c.lastSeq != v.m.LastSeq {
		from := c.lastSeq + 1
		if c.lastSeq > v.m.LastSeq {
			from = v.m.LastSeq
		}
		v.fail(Failure{Layer: "event", Check: "missing", Seq: u64p(from), Detail: fmt.Sprintf("the last event is seq %d (EventID %s), the signed manifest says LastSeq %d: events truncated", c.lastSeq, c.idOf(c.last), v.m.LastSeq)})
	}
	if v.m.Kind == KindFull {
		if c.tree.n != v.m.TreeSize {
			v.fail(Failure{Layer: "tree", Check: "missing", Seq: u64p(c.tree.n), Detail: fmt.Sprintf("the events build a tree of %d, the newest checkpoint covers %d: seqs %d..%d are missing", c.tree.n, v.m.TreeSize, c.tree.n, v.m.TreeSize-1)})
		}
	}
	switch {
	case v.opts.HashesOnly:
		v.r.Completeness = "not checked (hashes only)"
		return
	case v.m.Kind == KindFull:
		v.r.Completeness = "checked: every session epoch of the whole log"
	case v.m.Selection.By == "session":
		v.r.Completeness = "checked: the session's epochs"
	default:
		v.r.Completeness = "not applicable: a partial selection cannot show MsgSeqNum continuity"
		return
	}
	keys := make([]epochKey, 0, len(c.epochs))
	for k := range c.epochs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].session != keys[j].session {
			return keys[i].session < keys[j].session
		}
		return keys[i].epoch < keys[j].epoch
	})
	for _, k := range keys {
		c.complete(k, c.epochs[k])
	}
}

// complete checks one session epoch: every MsgSeqNum from the epoch's
// start to its end was delivered, or is accounted for by a recorded gap
// fill, or lies past the point a recorded reset closed the epoch
// (docs/vcp-profile.md §9e).
func (c *collector) complete(k epochKey, e *epochState) {
	v := c.v
	if len(e.got) == 0 && e.closedAt == 0 {
		return
	}
	sort.Slice(e.got, func(i, j int) bool { return e.got[i].n < e.got[j].n })
	delivered := map[int64]bool{}
	var hi int64
	for _, m := range e.got {
		delivered[m.n] = true
		if !m.ahead || e.closedAt != 0 {
			hi = max(hi, m.n)
		}
	}
	if e.closedAt != 0 {
		hi = max(hi, e.closedAt-1)
	}
	lo := e.start
	if len(e.got) > 0 {
		lo = min(lo, e.got[0].n)
	}
	sr := SessionRange{SessionID: k.session, Epoch: k.epoch, First: lo, Last: hi, Delivered: len(delivered)}
	accounted := func(n int64) bool {
		for _, g := range e.gaps {
			if n >= g[0] && n < g[1] {
				return true
			}
		}
		return false
	}
	var missFrom int64 = -1
	report := func(from, to int64) {
		// Name the first event after the gap: it is where the gap shows.
		i := sort.Search(len(e.got), func(i int) bool { return e.got[i].n > to })
		f := Failure{Layer: "completeness", Check: "MsgSeqNum",
			Detail: fmt.Sprintf("session %s epoch %d: MsgSeqNums %d..%d were never logged and no reset or gap-fill event accounts for them", k.session, k.epoch, from, to)}
		if i < len(e.got) {
			f.Seq, f.EventID = u64p(e.got[i].seq), e.got[i].id
		}
		v.fail(f)
	}
	for n := lo; n <= hi; n++ {
		switch {
		case delivered[n]:
		case accounted(n):
			sr.Accounted++
		default:
			if missFrom < 0 {
				missFrom = n
			}
			if n == hi || delivered[n+1] || accounted(n+1) {
				report(missFrom, n)
				missFrom = -1
			}
			continue
		}
		if missFrom >= 0 {
			missFrom = -1
		}
	}
	// Messages logged ahead of sequence in the open epoch, beyond the
	// delivered range: recovery was in progress at export.
	for _, m := range e.got {
		if m.ahead && m.n > hi && e.closedAt == 0 {
			v.r.Warnings = append(v.r.Warnings, fmt.Sprintf("session %s epoch %d: MsgSeqNum %d (seq %d) arrived ahead of sequence; MsgSeqNums %d..%d were still being recovered when the bundle was cut", k.session, k.epoch, m.n, m.seq, hi+1, m.n-1))
		}
	}
	v.r.Sessions = append(v.r.Sessions, sr)
}

// crossChecks relate anchors to events: a token cannot predate the
// capture of an event its checkpoint covers, and events past the newest
// anchor are reported as sealed but not yet anchored.
func (v *verifier) crossChecks() {
	var anchored uint64
	// newestBelow[j]: the index of the newest capture time among the
	// first j+1 events (seqs ascend), so each anchor is one binary search.
	newestBelow := make([]int, len(v.seqs))
	for j := range v.seqs {
		newestBelow[j] = j
		if j > 0 && v.times[newestBelow[j-1]] >= v.times[j] {
			newestBelow[j] = newestBelow[j-1]
		}
	}
	for i, a := range v.r.Anchors {
		if !a.OK {
			continue
		}
		anchored = max(anchored, a.TreeSize)
		gen, _ := parseRFC3339(a.GenTime)
		var newest int64
		at := -1
		if k := sort.Search(len(v.seqs), func(i int) bool { return v.seqs[i] >= a.TreeSize }); k > 0 {
			at = newestBelow[k-1]
			newest = v.times[at]
		}
		if at >= 0 && gen < newest-int64(maxClockSkew) {
			v.r.Anchors[i].OK = false
			v.fail(Failure{Layer: "anchor", Check: "time", TreeSize: u64p(a.TreeSize), Seq: u64p(v.seqs[at]), EventID: v.ids[at],
				Detail: fmt.Sprintf("%s stamped the checkpoint at %s, before the event it covers was captured (%d ns)", a.TSA, a.GenTime, newest)})
		}
	}
	if len(v.seqs) > 0 {
		last := v.seqs[len(v.seqs)-1]
		if len(v.m.Anchors) == 0 {
			v.r.Unanchored = &SeqRange{First: v.seqs[0], Last: last}
			v.r.Warnings = append(v.r.Warnings, "the bundle holds no anchor: its checkpoints are signed but not time-stamped")
		} else if last >= anchored {
			first := v.seqs[sort.Search(len(v.seqs), func(i int) bool { return v.seqs[i] >= anchored })]
			v.r.Unanchored = &SeqRange{First: first, Last: last}
			v.r.Warnings = append(v.r.Warnings, fmt.Sprintf("seqs %d..%d are sealed by a signed checkpoint but not yet anchored by a time-stamp (newest anchor covers %d events)", first, last, anchored))
		}
	}
}

// checkTlogProofs checks the C2SP tlog-proof files of a proof bundle
// (https://c2sp.org/tlog-proof): "<seq>.tlog-proof", its index the
// event's seq, its extra data the event's raw EventHash, its checkpoint
// one of the bundle's (byte for byte, so signed), and its inclusion proof
// valid against that checkpoint.
func (v *verifier) checkTlogProofs(hashes map[uint64][32]byte) {
	for _, f := range v.m.Files {
		if !strings.HasSuffix(f.Path, ".tlog-proof") {
			continue
		}
		fail := func(seq *uint64, format string, args ...any) {
			v.fail(Failure{Layer: "tree", Check: "tlog-proof", Seq: seq, Detail: f.Path + ": " + fmt.Sprintf(format, args...)})
		}
		b, err := fs.ReadFile(v.fsys, f.Path)
		if err != nil {
			fail(nil, "%v", err)
			continue
		}
		idx, extra, proof, cpNote, err := parseTlogProof(b)
		if err != nil {
			fail(nil, "%v", err)
			continue
		}
		h, ok := hashes[idx]
		if !ok {
			fail(u64p(idx), "index %d is not an event of the bundle", idx)
			continue
		}
		if !bytes.Equal(extra, h[:]) {
			fail(u64p(idx), "extra data %x is not the event's EventHash %x", extra, h)
			continue
		}
		var c *cp
		for i := range v.cps {
			if v.cps[i].ok && bytes.Equal(v.cps[i].note, cpNote) {
				c = &v.cps[i]
			}
		}
		if c == nil {
			fail(u64p(idx), "its checkpoint is not one of the bundle's verified checkpoints")
			continue
		}
		leaf := leafHash(h)
		if err := tlog.CheckRecord(proof, int64(c.size), tlog.Hash(c.root), int64(idx), tlog.Hash(leaf)); err != nil {
			fail(u64p(idx), "inclusion in checkpoint %d: %v", c.size, err)
		}
	}
}

// parseTlogProof parses a c2sp.org/tlog-proof@v1 file.
func parseTlogProof(b []byte) (index uint64, extra []byte, proof []tlog.Hash, checkpointNote []byte, err error) {
	head, cpNote, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		return 0, nil, nil, nil, fmt.Errorf("no blank line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" {
		return 0, nil, nil, nil, fmt.Errorf("header %q, want c2sp.org/tlog-proof@v1", lines[0])
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		if extra, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[0], "extra ")); err != nil {
			return 0, nil, nil, nil, fmt.Errorf("extra: %w", err)
		}
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return 0, nil, nil, nil, fmt.Errorf("no index line")
	}
	if index, err = strconv.ParseUint(strings.TrimPrefix(lines[0], "index "), 10, 64); err != nil {
		return 0, nil, nil, nil, fmt.Errorf("index: %w", err)
	}
	hs, err := decodeHashes(lines[1:])
	if err != nil {
		return 0, nil, nil, nil, err
	}
	return index, extra, hs, cpNote, nil
}
