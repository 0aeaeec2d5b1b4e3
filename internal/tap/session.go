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
	inKey  []byte // fieldKey(prefix, fieldIn); never modified (shared by queued writes)
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
	// pendingBuf is the storage pending reuses for messages up to
	// maxPendingReuse bytes; nothing keeps pending past the next
	// OnIncoming except deferred, which clones it.
	pendingBuf []byte
	// ahead: MsgSeqNums of this epoch logged while beyond the expected one
	// (a Logon that opened a gap): their PossDup resends are not logged again.
	ahead map[int]bool

	// roots maps ClOrdID → root ClOrdID of its replace chain, and
	// orderRoots OrderID → root, so every event of one order shares a
	// TraceID (profile §1); see rootOf.
	roots      map[string]string
	orderRoots map[string]string

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

// oidPrefix marks an OrderID where the replace-chain memory used to keep
// OrderIDs and ClOrdIDs in one map: a root found only by OrderID is
// oidPrefix+OrderID, and TraceIDs hash it so.
const oidPrefix = "\x00oid:"

// rootOf returns the remembered root of key, a ClOrdID, or an OrderID
// when oid. Keys live in two maps (no concatenated lookup keys), split so
// that each key means what it meant in the single map of earlier versions,
// whose OrderID keys were oidPrefix+OrderID: a ClOrdID that starts with
// oidPrefix is that OrderID's key.
func (s *session) rootOf(key string, oid bool) string {
	if !oid && strings.HasPrefix(key, oidPrefix) {
		key, oid = key[len(oidPrefix):], true
	}
	if oid {
		return s.orderRoots[key]
	}
	return s.roots[key]
}

// remember stores root for key (as rootOf), unless it is there already.
// Keys and root are substrings of the parsed message: what is stored is
// cloned, or every remembered order would pin its whole message.
func (s *session) remember(key string, oid, replace bool, root string) {
	if !oid && strings.HasPrefix(key, oidPrefix) {
		key, oid = key[len(oidPrefix):], true
	}
	m := &s.roots
	if oid {
		m = &s.orderRoots
	}
	if *m == nil {
		*m = map[string]string{}
	}
	if old, ok := (*m)[key]; ok && (!replace || old == root) {
		return
	}
	(*m)[strings.Clone(key)] = strings.Clone(root)
}

// traceID is the TraceID of an order event as a string ("" when k names
// no order): see traceUUID.
func (s *session) traceID(k fixmap.OrderKeys) string {
	if u, ok := s.traceUUID(k); ok {
		return u.String()
	}
	return ""
}

// traceUUID derives the TraceID of an order event: a UUID (version 8, RFC
// 9562 §5.8) from SHA-256("fixtap-trace/1" ‖ session ‖ root), where root is
// the first ClOrdID of the replace chain (OrigClOrdID links), else the
// OrderID; false when k names no order.
func (s *session) traceUUID(k fixmap.OrderKeys) (uuid.UUID, bool) {
	root := ""
	// knownCl, knownOid: the lookups found ClOrdID remembered with root,
	// and OrderID remembered, so remembering them again would change
	// nothing (one map lookup less for a fill of a known order).
	knownCl, knownOid := false, false
	switch {
	case k.ClOrdID != "":
		// A replace or cancel names the order it acts on in OrigClOrdID:
		// follow that link first. Its ClOrdID is new to this order, and a
		// root remembered for it could only belong to an older order that
		// reused the identifier.
		if k.OrigClOrdID != "" {
			root = s.rootOf(k.OrigClOrdID, false)
			if root == "" {
				root = k.OrigClOrdID
			}
		} else {
			root = s.rootOf(k.ClOrdID, false)
			knownCl = root != ""
		}
		if root == "" && k.OrderID != "" {
			root = s.rootOf(k.OrderID, true)
			knownOid = root != ""
		}
		if root == "" {
			root = k.ClOrdID
		}
	case k.OrigClOrdID != "":
		root = s.rootOf(k.OrigClOrdID, false)
		if root == "" {
			root = k.OrigClOrdID
		}
	case k.OrderID != "":
		root = s.rootOf(k.OrderID, true)
		knownOid = root != ""
		if root == "" {
			root = oidPrefix + k.OrderID
		}
	default:
		return uuid.UUID{}, false
	}
	if len(s.roots)+len(s.orderRoots) >= maxRoots {
		clear(s.roots)
		clear(s.orderRoots)
		knownCl, knownOid = false, false
	}
	// A fill of a known order stores nothing (no allocation).
	if k.ClOrdID != "" && !knownCl {
		s.remember(k.ClOrdID, false, true, root)
	}
	if k.OrderID != "" && !knownOid {
		s.remember(k.OrderID, true, false, root)
	}
	// SHA-256 over a stack buffer (sha256.New and Sum(nil) allocate).
	var buf [160]byte
	b := append(buf[:0], "fixtap-trace/1\x00"...)
	b = append(b, s.name...)
	b = append(b, 0)
	b = append(b, root...)
	sum := sha256.Sum256(b)
	var u uuid.UUID
	copy(u[:], sum[:])
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return u, true
}
