package tap

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/fixmap"
)

// session is the tap's state of one FIX session. quickfix calls the
// Application and the MessageStore of a session from that session's own
// goroutine, so the fields below need no lock; the tap's session map does.
type session struct {
	id     quickfix.SessionID
	name   string // id.String(): the SessionID of events
	prefix []byte // Pebble key prefix (keys.go)
	ids    *chain.IDGen
	venue  string
	policy chain.PolicyIdentification

	in, out int // next expected incoming / next outgoing MsgSeqNum
	epoch   uint64
	ctime   time.Time

	// persistedIn is the next-expected value the newest queued event or
	// write carries to Pebble; when quickfix moves in elsewhere, the store
	// queues the difference (see store.IncrNextTargetMsgSeqNum).
	persistedIn int

	// lastLogon is the Logon message already recorded: quickfix calls
	// FromAdmin twice for one Logon (docs/architecture.md).
	lastLogon *quickfix.Message
	// sawLogout: a Logout arrived since the last logon; OnLogout without it
	// is a transport drop (ERR_CONN).
	sawLogout bool
	loggedOn  bool
	// resetDone: the tap already recorded the epoch that quickfix's next
	// store.Reset() starts (Logon 141=Y).
	resetDone bool

	// pending: the raw bytes of the inbound message quickfix is processing,
	// until FromApp/FromAdmin consumes them; deferred: messages it queued
	// beyond a sequence gap (rawlog.go).
	pending  []byte
	deferred map[int][]byte
	// ahead: MsgSeqNums of this epoch logged while beyond the expected one
	// (a Logon that opened a gap): their PossDup resends are not logged again.
	ahead map[int]bool

	// roots maps ClOrdID → root ClOrdID of its replace chain, and OrderID →
	// root, so every event of one order shares a TraceID (profile §1).
	roots map[string]string

	// stats are read by Tap.Stats from other goroutines (stats.go); the
	// gap* fields tell a new gap from messages beyond one already counted.
	stats    sessionStats
	gapOpen  bool
	gapEpoch uint64
	gapIn    int
}

// maxRoots bounds the replace-chain memory of one session; past it the map
// is cleared (later events of older orders then start a new TraceID root —
// a documented limit, not a loss).
const maxRoots = 1 << 20

// load reads the session's persisted state, or initialises it.
func (s *session) load(db *pebble.DB) error {
	s.in, s.out, s.epoch = 1, 1, 0
	get := func(f byte) (uint64, bool, error) {
		v, c, err := db.Get(fieldKey(s.prefix, f))
		if errors.Is(err, pebble.ErrNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("tap: read %s state: %w", s.name, err)
		}
		defer c.Close()
		if len(v) != 8 {
			return 0, false, fmt.Errorf("tap: %s state %q: %d bytes, want 8", s.name, f, len(v))
		}
		return binary.BigEndian.Uint64(v), true, nil
	}
	if v, ok, err := get(fieldIn); err != nil {
		return err
	} else if ok {
		s.in = int(v)
	}
	if v, ok, err := get(fieldOut); err != nil {
		return err
	} else if ok {
		s.out = int(v)
	}
	if v, ok, err := get(fieldEpoch); err != nil {
		return err
	} else if ok {
		s.epoch = v
	}
	if v, ok, err := get(fieldCTime); err != nil {
		return err
	} else if ok {
		s.ctime = time.Unix(0, int64(v)).UTC()
	}
	s.persistedIn = s.in
	s.stats.lastIn.Store(int64(s.in - 1))
	s.stats.lastOut.Store(int64(s.out - 1))
	return nil
}

// traceID derives the TraceID of an order event: a UUID (version 8, RFC 9562
// §5.8) from SHA-256("fixtap-trace/1" ‖ session ‖ root), where root is the
// first ClOrdID of the replace chain (OrigClOrdID links), else the OrderID.
func (s *session) traceID(k fixmap.OrderKeys) string {
	root := ""
	switch {
	case k.ClOrdID != "":
		// A replace or cancel names the order it acts on in OrigClOrdID:
		// follow that link first. Its ClOrdID is new to this order, and a
		// root remembered for it could only belong to an older order that
		// reused the identifier.
		if k.OrigClOrdID != "" {
			root = s.roots[k.OrigClOrdID]
			if root == "" {
				root = k.OrigClOrdID
			}
		} else {
			root = s.roots[k.ClOrdID]
		}
		if root == "" && k.OrderID != "" {
			root = s.roots["\x00oid:"+k.OrderID]
		}
		if root == "" {
			root = k.ClOrdID
		}
	case k.OrigClOrdID != "":
		root = s.roots[k.OrigClOrdID]
		if root == "" {
			root = k.OrigClOrdID
		}
	case k.OrderID != "":
		root = s.roots["\x00oid:"+k.OrderID]
		if root == "" {
			root = "\x00oid:" + k.OrderID
		}
	default:
		return ""
	}
	if len(s.roots) >= maxRoots {
		clear(s.roots)
	}
	// Keys and root are substrings of the parsed message: what is stored
	// is cloned, or every remembered order would pin its whole message. A
	// fill of a known order stores nothing (no allocation).
	if k.ClOrdID != "" {
		if old, ok := s.roots[k.ClOrdID]; !ok || old != root {
			root = strings.Clone(root)
			s.roots[strings.Clone(k.ClOrdID)] = root
		}
	}
	if k.OrderID != "" {
		if _, ok := s.roots["\x00oid:"+k.OrderID]; !ok {
			s.roots["\x00oid:"+k.OrderID] = strings.Clone(root)
		}
	}
	h := sha256.New()
	h.Write([]byte("fixtap-trace/1\x00"))
	h.Write([]byte(s.name))
	h.Write([]byte{0})
	h.Write([]byte(root))
	var u uuid.UUID
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return u.String()
}
