package monitor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/tlog"
)

// entrySize is the length of every fixtap log entry: the raw 32-byte
// EventHash of the event at that index (docs/vcp-profile.md §3), so that
// the RFC 6962 leaf hash SHA-256(0x00 ‖ entry) is fixtap's leaf.
const entrySize = 32

// parseEntryBundle splits a tlog-tiles entry bundle ("Log entries":
// a sequence of big-endian uint16 length-prefixed entries). It returns
// sub-slices of b.
func parseEntryBundle(b []byte) ([][]byte, error) {
	var entries [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("entry %d: truncated length prefix", len(entries))
		}
		n := int(b[0])<<8 | int(b[1])
		if len(b) < 2+n {
			return nil, fmt.Errorf("entry %d: length %d, only %d bytes left", len(entries), n, len(b)-2)
		}
		entries = append(entries, b[2:2+n])
		b = b[2+n:]
		if len(entries) > 1<<tileHeight {
			return nil, fmt.Errorf("more than %d entries", 1<<tileHeight)
		}
	}
	return entries, nil
}

// eventsPath is the path of fixtap's events extension for entry bundle N
// (docs: the replica layout): the same index range as
// tile/entries/<N>[.p/<W>], one exported event line each. tlog-tiles
// "Log entries" allows other encodings of the entries at other URLs.
func eventsPath(N int64, w int) string {
	return "fixtap/events/" + layout.NWithSuffix(0, uint64(N), partial(w))
}

// splitEventLines splits an events bundle into its lines; every line ends
// in "\n" and none is empty.
func splitEventLines(b []byte) ([][]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	if b[len(b)-1] != '\n' {
		return nil, errors.New("the last line does not end in a newline")
	}
	lines := bytes.Split(b[:len(b)-1], []byte("\n"))
	for i, l := range lines {
		if len(l) == 0 {
			return nil, fmt.Errorf("line %d is empty", i+1)
		}
	}
	return lines, nil
}

// event is what the monitor reads of one exported event line.
type event struct {
	Hash      [32]byte // Security.EventHash
	Prev      [32]byte // Security.PrevHash
	TimeNs    int64    // Header.TimestampInt: the tap's capture time
	EventType string
	FIX       bool // Payload.FIX present: made from an inbound FIX message
}

// parseEvent checks one line of an events bundle, the event at log index
// i, and returns what the silence check needs. A line is the RFC 8785
// form of {"Header":…,"Payload":…,"Security":…} (docs/bundle.md,
// events.jsonl); the checks are:
//
//   - the three members, in that order, and nothing else;
//   - EventHash = SHA-256(Header ‖ Payload ‖ PrevHash as 64 hex digits),
//     over the line's exact bytes, with nothing appended for the genesis
//     event (i = 0), whose PrevHash is all zeros (docs/vcp-profile.md §2);
//   - PrevHash equals prev, the EventHash at i−1, when the caller knows it;
//   - Security.MerkleIndex, if present, equals i.
//
// This is an independent implementation of the profile's hash: the
// monitor does not link internal/chain.
func parseEvent(line []byte, i int64, prev *[32]byte) (event, error) {
	var ev event
	var top struct {
		Header, Payload, Security json.RawMessage
	}
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(&top); err != nil {
		return ev, fmt.Errorf("not an event line: %w", err)
	}
	if d.More() {
		return ev, errors.New("not an event line: data after the object")
	}
	want := make([]byte, 0, len(line))
	want = append(want, `{"Header":`...)
	want = append(want, top.Header...)
	want = append(want, `,"Payload":`...)
	want = append(want, top.Payload...)
	want = append(want, `,"Security":`...)
	want = append(want, top.Security...)
	want = append(want, '}')
	if !bytes.Equal(want, line) {
		return ev, errors.New(`not an event line: want exactly {"Header":…,"Payload":…,"Security":…} in canonical form`)
	}
	var h struct {
		TimestampInt string
		EventType    string
	}
	var p struct{ FIX json.RawMessage }
	var s struct {
		EventHash, PrevHash string
		MerkleIndex         *int64
	}
	if err := json.Unmarshal(top.Header, &h); err != nil {
		return ev, fmt.Errorf("Header: %w", err)
	}
	if err := json.Unmarshal(top.Payload, &p); err != nil {
		return ev, fmt.Errorf("Payload: %w", err)
	}
	if err := json.Unmarshal(top.Security, &s); err != nil {
		return ev, fmt.Errorf("Security: %w", err)
	}
	var err error
	if ev.TimeNs, err = strconv.ParseInt(h.TimestampInt, 10, 64); err != nil || ev.TimeNs < 0 {
		return ev, fmt.Errorf("Header.TimestampInt %q: want nanoseconds since the epoch", h.TimestampInt)
	}
	ev.EventType = h.EventType
	ev.FIX = len(p.FIX) > 0 && string(p.FIX) != "null"
	if ev.Hash, err = parseHex32(s.EventHash); err != nil {
		return ev, fmt.Errorf("Security.EventHash: %w", err)
	}
	prevHash, err := parseHex32(s.PrevHash)
	ev.Prev = prevHash
	if err != nil {
		return ev, fmt.Errorf("Security.PrevHash: %w", err)
	}
	if s.MerkleIndex != nil && *s.MerkleIndex != i {
		return ev, fmt.Errorf("Security.MerkleIndex %d, at index %d", *s.MerkleIndex, i)
	}
	dg := sha256.New()
	dg.Write(top.Header)
	dg.Write(top.Payload)
	if i == 0 {
		if prevHash != ([32]byte{}) {
			return ev, fmt.Errorf("Security.PrevHash %s: the genesis event's is all zeros", s.PrevHash)
		}
	} else {
		dg.Write([]byte(s.PrevHash))
		if prev != nil && prevHash != *prev {
			return ev, fmt.Errorf("Security.PrevHash %s: the EventHash at index %d is %x", s.PrevHash, i-1, prev[:])
		}
	}
	var sum [32]byte
	dg.Sum(sum[:0])
	if sum != ev.Hash {
		return ev, fmt.Errorf("Security.EventHash %s: the line's Header, Payload and PrevHash hash to %x", s.EventHash, sum[:])
	}
	return ev, nil
}

// parseHex32 parses 64 lowercase hex digits.
func parseHex32(s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 {
		return h, fmt.Errorf("%q: want 64 lowercase hex digits", s)
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, fmt.Errorf("%q: want 64 lowercase hex digits", s)
		}
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err
}

// rangeResult is what verifyRange learned of the events it read.
type rangeResult struct {
	Entries int64
	First   EventMark // the oldest event read
	Last    EventMark // the newest event read
	LastFIX *EventMark
}

// verifyRange checks entry bundles [lo, hi) of the replica at its size n
// against the signed root (tlog-tiles "Log entries": each entry hashes to
// the corresponding entry of the level-0 tile):
//
//  1. the level-0 tiles of those bundles are authenticated up to root;
//  2. each entry is 32 bytes and SHA-256(0x00 ‖ entry) (RFC 6962 §2.1,
//     tlog.RecordHash) equals its hash in the level-0 tile;
//  3. the fixtap/events bundle of the same range has one line per entry,
//     each checked by parseEvent against its entry, the first against the
//     leaf hash of the entry before it (read from an authenticated tile).
//
// countFIX says which events count as FIX-derived for the silence check.
func verifyRange(r *replicaReader, root tlog.Hash, lo, hi int64, countFIX func(event) bool) (*rangeResult, error) {
	if lo >= hi {
		return &rangeResult{}, nil
	}
	level0 := make([]int64, 0, hi-lo+1)
	if lo > 0 {
		level0 = append(level0, lo-1) // for the first event's PrevHash
	}
	for N := lo; N < hi; N++ {
		level0 = append(level0, N)
	}
	if err := r.authenticate(root, level0); err != nil {
		return nil, err
	}
	res := &rangeResult{}
	var prev *[32]byte
	for N := lo; N < hi; N++ {
		w := widthAt(0, N, r.n)
		if w == 0 {
			return nil, fmt.Errorf("monitor: internal error: entry bundle %d outside a tree of size %d", N, r.n)
		}
		t, tdata, err := r.tile(0, N)
		if err != nil {
			return nil, err
		}
		tileURL := redactURL(r.url(r.tilePath(0, N, t.W)))
		bpath, bfull := layout.EntriesPath(uint64(N), partial(w)), layout.EntriesPath(uint64(N), 0)
		entries, burl, err := r.bundle(bpath, bfull, w, maxEntryBundle, "entry bundle", func(b []byte) ([][]byte, error) { return parseEntryBundle(b) })
		if err != nil {
			return nil, err
		}
		epath, efull := eventsPath(N, w), eventsPath(N, 1<<tileHeight)
		lines, eurl, err := r.bundle(epath, efull, w, maxEventBundle, "event bundle", splitEventLines)
		if err != nil {
			return nil, err
		}
		for j := 0; j < w; j++ {
			i := N<<tileHeight + int64(j)
			e := entries[j]
			if len(e) != entrySize {
				return nil, &MismatchError{What: "entry", Index: i, URL: burl, Got: fmt.Sprintf("%d bytes", len(e)), Want: "32 bytes (an EventHash)"}
			}
			leaf := tlog.RecordHash(e)
			var want tlog.Hash
			copy(want[:], tdata[j*tlog.HashSize:])
			if leaf != want {
				return nil, &MismatchError{What: "entry", Index: i, URL: burl, Against: tileURL,
					Got: "leaf hash " + leaf.String(), Want: want.String(), Detail: fmt.Sprintf("entry %x", e)}
			}
			ev, err := parseEvent(lines[j], i, prev)
			if err != nil {
				return nil, &MismatchError{What: "event", Index: i, URL: eurl, Detail: err.Error()}
			}
			if prev == nil && i > 0 {
				// The first event of the range: its PrevHash must be the
				// entry before it, whose leaf hash an authenticated tile holds.
				ph, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, i-1)})
				if err != nil {
					return nil, err
				}
				if got := tlog.RecordHash(ev.Prev[:]); got != ph[0] {
					return nil, &MismatchError{What: "event", Index: i, URL: eurl, Against: "the leaf hash of index " + strconv.FormatInt(i-1, 10),
						Got: "PrevHash " + hex.EncodeToString(ev.Prev[:]) + " (leaf hash " + got.String() + ")", Want: "leaf hash " + ph[0].String()}
				}
			}
			if !bytes.Equal(ev.Hash[:], e) {
				return nil, &MismatchError{What: "event", Index: i, URL: eurl, Against: burl,
					Got: "EventHash " + hex.EncodeToString(ev.Hash[:]), Want: "the entry " + hex.EncodeToString(e)}
			}
			h := ev.Hash
			prev = &h
			mark := EventMark{Index: uint64(i), TimeNs: ev.TimeNs}
			if res.Entries == 0 {
				res.First = mark
			}
			res.Entries++
			res.Last = mark
			if countFIX(ev) {
				m := mark
				res.LastFIX = &m
			}
		}
	}
	return res, nil
}

// bundle reads an entry or events bundle of width w (falling back to the
// full bundle when a partial one is gone, as for tiles) and splits it; the
// split must give exactly w items (or 256 for the full fallback, of which
// the first w are kept).
func (r *replicaReader) bundle(path, fullPath string, w int, max int64, what string, split func([]byte) ([][]byte, error)) ([][]byte, string, error) {
	u := redactURL(r.url(path))
	b, err := r.f.get(r.ctx, r.url(path), max, false)
	var fe *FetchError
	want := w
	if err != nil && w < 1<<tileHeight && errors.As(err, &fe) && fe.NotFound() {
		full, ferr := r.f.get(r.ctx, r.url(fullPath), max, false)
		if ferr != nil {
			return nil, u, err
		}
		b, u, want, err = full, redactURL(r.url(fullPath)), 1<<tileHeight, nil
	}
	if err != nil {
		return nil, u, err
	}
	items, err := split(b)
	if err != nil {
		return nil, u, &MismatchError{What: what, URL: u, Detail: err.Error()}
	}
	if len(items) != want {
		return nil, u, &MismatchError{What: what, URL: u, Got: fmt.Sprintf("%d items", len(items)), Want: fmt.Sprintf("%d", want)}
	}
	return items[:w], u, nil
}
