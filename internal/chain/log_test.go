package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/fixtap/fixtap/internal/jcs"
)

func TestAppendReadReopen(t *testing.T) {
	for _, mode := range []Durability{SyncPerGroup, SyncInterval} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := context.Background()
			key := testKey(t)
			l, cfg := openTestLog(t, func(c *Config) { c.Durability = mode; c.Signer = NewSigner(key); c.TailCheck = -1 })
			// Blocking appends, then a burst of queued appends from several goroutines.
			for i := range 10 {
				seq, h, err := l.AppendWait(ctx, testEntry(i))
				if err != nil || seq != uint64(i) {
					t.Fatalf("AppendWait %d: seq %d, %v", i, seq, err)
				}
				if r, err := l.Get(seq); err != nil || r.Hash != h {
					t.Fatalf("Get(%d): %v", seq, err)
				}
			}
			var wg sync.WaitGroup
			var acked atomic.Int64
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 250 {
						e := testEntry(10 + g*250 + i)
						e.Done = func(uint64, Hash, error) { acked.Add(1) }
						if err := l.Append(ctx, e); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := l.WaitDurable(ctx, 1010); err != nil {
				t.Fatal(err)
			}
			if err := l.WaitSigned(ctx, 1010); err != nil {
				t.Fatal(err)
			}
			if n := verifyAll(t, l, key.Public().(ed25519.PublicKey)); n != 1010 {
				t.Fatalf("log size %d, want 1010", n)
			}
			if _, err := l.Get(1010); !errors.Is(err, ErrNotDurable) {
				t.Fatalf("Get beyond watermark: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if acked.Load() != 1000 {
				t.Fatalf("Done called %d times, want 1000", acked.Load())
			}
			if err := l.Append(ctx, testEntry(0)); !errors.Is(err, ErrClosed) {
				t.Fatalf("Append after Close: %v", err)
			}
			// Reopen and continue the same chain.
			l, err := Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			seq, _, err := l.AppendWait(ctx, testEntry(2000))
			if err != nil || seq != 1010 {
				t.Fatalf("append after reopen: seq %d, %v", seq, err)
			}
			l.WaitSigned(ctx, 1011)
			verifyAll(t, l, key.Public().(ed25519.PublicKey))
		})
	}
}

func TestAlsoIsAtomicWithEvent(t *testing.T) {
	ctx := context.Background()
	l, cfg := openTestLog(t, nil)
	e := testEntry(0)
	e.Also = func(seq uint64, set func(k, v []byte)) {
		set([]byte{PrefixSession, 'n'}, []byte(fmt.Sprint(seq+1)))
	}
	if _, _, err := l.AppendWait(ctx, e); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	v, closer, err := l.DB().Get([]byte{PrefixSession, 'n'})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if string(v) != "1" {
		t.Fatalf("session key = %q, want 1", v)
	}
}

func TestRefusedEntryWritesNothing(t *testing.T) {
	ctx := context.Background()
	l, _ := openTestLog(t, nil)
	defer l.Close()
	bad := testEntry(0)
	bad.Payload.Trade.ClOrdID = "bad\xed\xa0\x80" // a UTF-8-encoded lone surrogate
	var ce *CanonicalError
	if err := l.Append(ctx, bad); !errors.As(err, &ce) || !errors.Is(err, jcs.ErrInvalidUTF8) {
		t.Fatalf("Append(lone surrogate) = %v, want *CanonicalError wrapping jcs.ErrInvalidUTF8", err)
	}
	wrong := testEntry(0)
	wrong.Header.EventTypeCode = 4
	var ie *InvalidEventError
	if err := l.Append(ctx, wrong); !errors.As(err, &ie) {
		t.Fatalf("Append(code mismatch) = %v, want *InvalidEventError", err)
	}
	seq, _, err := l.AppendWait(ctx, testEntry(1))
	if err != nil || seq != 0 {
		t.Fatalf("first good append got seq %d (%v): a refused entry took a seq", seq, err)
	}
}

// TestOpenRefusesDamage tampers with a closed log's Pebble directly and
// checks Open names the seq and, for a broken link, both hashes.
func TestOpenRefusesDamage(t *testing.T) {
	ctx := context.Background()
	const n = 20
	build := func(t *testing.T) Config {
		l, cfg := openTestLog(t, func(c *Config) { c.TailCheck = -1 })
		for i := range n {
			if _, _, err := l.AppendWait(ctx, testEntry(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	tamper := func(t *testing.T, cfg Config, fn func(db *pebble.DB)) {
		db, err := pebble.Open(cfg.Dir, &pebble.Options{FormatMajorVersion: FormatMajorVersion})
		if err != nil {
			t.Fatal(err)
		}
		fn(db)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	get := func(db *pebble.DB, seq uint64) []byte {
		v, c, err := db.Get(seqKey(PrefixEvent, seq))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return bytes.Clone(v)
	}
	t.Run("payload byte changed", func(t *testing.T) {
		cfg := build(t)
		tamper(t, cfg, func(db *pebble.DB) {
			v := get(db, 7)
			i := bytes.Index(v, []byte(`"123.4567"`))
			v[i+1] = '9'
			db.Set(seqKey(PrefixEvent, 7), v, pebble.Sync)
		})
		_, err := Open(ctx, cfg)
		var ble *BrokenLinkError
		if !errors.As(err, &ble) || ble.Seq != 7 || ble.What != "EventHash" || ble.Stored == ble.Want {
			t.Fatalf("Open = %v, want *BrokenLinkError at seq 7", err)
		}
		if !strings.Contains(err.Error(), ble.Stored.String()) || !strings.Contains(err.Error(), ble.Want.String()) {
			t.Errorf("error %q does not carry both hashes", err)
		}
	})
	t.Run("record replaced by a self-consistent forgery", func(t *testing.T) {
		cfg := build(t)
		tamper(t, cfg, func(db *pebble.DB) {
			r, err := DecodeRecord(12, get(db, 12))
			if err != nil {
				t.Fatal(err)
			}
			pay := bytes.Replace(r.Payload, []byte(`"BUY"`), []byte(`"SELL"`), 1)
			rec := appendRecord(nil, r.Header, pay, r.Raw)
			linkRecord(rec, r.Prev, EventHash(r.Header, pay, r.Prev, false))
			db.Set(seqKey(PrefixEvent, 12), rec, pebble.Sync)
		})
		_, err := Open(ctx, cfg)
		var ble *BrokenLinkError
		if !errors.As(err, &ble) || ble.Seq != 13 || ble.What != "PrevHash" {
			t.Fatalf("Open = %v, want *BrokenLinkError at seq 13 (the successor no longer links)", err)
		}
	})
	t.Run("record missing in the middle", func(t *testing.T) {
		cfg := build(t)
		tamper(t, cfg, func(db *pebble.DB) { db.Delete(seqKey(PrefixEvent, 5), pebble.Sync) })
		_, err := Open(ctx, cfg)
		var me *MissingRecordError
		if !errors.As(err, &me) || me.Seq != 5 {
			t.Fatalf("Open = %v, want *MissingRecordError at seq 5", err)
		}
	})
	t.Run("last record missing", func(t *testing.T) {
		cfg := build(t)
		tamper(t, cfg, func(db *pebble.DB) { db.Delete(seqKey(PrefixEvent, n-1), pebble.Sync) })
		_, err := Open(ctx, cfg)
		var me *MissingRecordError
		if !errors.As(err, &me) || me.Seq != n-1 {
			t.Fatalf("Open = %v, want *MissingRecordError at seq %d", err, n-1)
		}
	})
	t.Run("record undecodable", func(t *testing.T) {
		cfg := build(t)
		tamper(t, cfg, func(db *pebble.DB) { db.Set(seqKey(PrefixEvent, 3), []byte{1, 2, 3}, pebble.Sync) })
		_, err := Open(ctx, cfg)
		var ce *CorruptRecordError
		if !errors.As(err, &ce) || ce.Seq != 3 {
			t.Fatalf("Open = %v, want *CorruptRecordError at seq 3", err)
		}
	})
	t.Run("tail window only", func(t *testing.T) {
		cfg := build(t)
		tamper(t, cfg, func(db *pebble.DB) {
			v := get(db, 2)
			v[len(v)-5] ^= 1 // raw FIX bytes: not hashed by the record
			i := bytes.Index(v, []byte(`"AAPL"`))
			v[i+1] = 'B'
			db.Set(seqKey(PrefixEvent, 2), v, pebble.Sync)
		})
		cfg.TailCheck = 5 // seq 2 is outside the re-checked tail: Open succeeds
		l, err := Open(ctx, cfg)
		if err != nil {
			t.Fatalf("Open with a tail window excluding the damage: %v", err)
		}
		l.Close()
		cfg.TailCheck = -1
		if _, err := Open(ctx, cfg); err == nil {
			t.Fatal("full check missed a changed header")
		}
	})
}

// injectAfter returns an errorfs injector that fails operations of kind on
// WAL files once armed.
func injectWAL(kind errorfs.OpKind, fail error) (*atomic.Bool, errorfs.Injector) {
	armed := new(atomic.Bool)
	return armed, errorfs.InjectorFunc(func(op errorfs.Op) error {
		k := op.Kind
		if k == errorfs.OpFileSyncData || k == errorfs.OpFileSyncTo {
			k = errorfs.OpFileSync // the WAL syncs with fdatasync / sync_file_range
		}
		if armed.Load() && k == kind && strings.HasSuffix(op.Path, ".log") {
			return fail
		}
		return nil
	})
}

// TestStorageFailureStopsAppends: a failed fsync or a full disk stops the
// log; nothing after the failure is acknowledged, the error says so, and the
// watermark stays put.
func TestStorageFailureStopsAppends(t *testing.T) {
	cases := []struct {
		name string
		kind errorfs.OpKind
		err  error
	}{
		{"fsync fails", errorfs.OpFileSync, fmt.Errorf("injected fsync failure: %w", syscall.EIO)},
		{"disk full", errorfs.OpFileWrite, fmt.Errorf("injected write failure: %w", syscall.ENOSPC)},
	}
	for _, c := range cases {
		for _, mode := range []Durability{SyncPerGroup, SyncInterval} {
			t.Run(c.name+"/"+mode.String(), func(t *testing.T) {
				ctx := context.Background()
				armed, inj := injectWAL(c.kind, c.err)
				var fatals atomic.Int64
				cfg := DefaultConfig("/db")
				cfg.FS = errorfs.Wrap(vfs.NewMem(), inj)
				cfg.Durability = mode
				cfg.Fatal = func(error) { fatals.Add(1) } // returns: the log must stop anyway
				cfg.Logger = quietLogger()
				l, err := Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 5 {
					if _, _, err := l.AppendWait(ctx, testEntry(i)); err != nil {
						t.Fatal(err)
					}
				}
				armed.Store(true)
				// The next group fails; its entries are reported as lost.
				_, _, err = l.AppendWait(ctx, testEntry(5))
				if !errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), "injected") {
					t.Fatalf("append during failure = %v, want ErrStopped carrying the cause", err)
				}
				armed.Store(false) // the disk "recovers": the log must stay stopped
				for i := 6; i < 10; i++ {
					_, _, err := l.AppendWait(ctx, testEntry(i))
					if !errors.Is(err, ErrStopped) {
						t.Fatalf("append %d after failure = %v, want ErrStopped", i, err)
					}
				}
				if d := l.Durable(); d != 5 {
					t.Fatalf("durable watermark %d after failure, want 5", d)
				}
				var se *StoppedError
				if !errors.As(l.Err(), &se) || se.Durable != 5 || !strings.Contains(se.Error(), "no later event will be acknowledged") {
					t.Fatalf("Err() = %v", l.Err())
				}
				if mode == SyncPerGroup && fatals.Load() == 0 {
					t.Error("Pebble's Fatalf did not reach Config.Fatal")
				}
				done := make(chan struct{})
				go func() { l.Close(); close(done) }()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("Close hangs after a storage failure")
				}
			})
		}
	}
}

// TestFatalStopsProcess runs a child whose WAL fsync fails with the default
// Config.Fatal: the process must die, and no append after the failure may be
// reported as durable.
func TestFatalStopsProcess(t *testing.T) {
	if os.Getenv("FIXTAP_FATAL_CHILD") == "1" {
		fatalChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFatalStopsProcess$")
	cmd.Env = append(os.Environ(), "FIXTAP_FATAL_CHILD=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("child exited %v; want a non-zero exit:\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("ARMED")) {
		t.Fatalf("child never reached the failure:\n%s", out)
	}
	if bytes.Contains(out, []byte("ACKED-AFTER-FAILURE")) {
		t.Fatalf("an append after the fsync failure was acknowledged:\n%s", out)
	}
	if !bytes.Contains(out, []byte("injected fsync failure")) {
		t.Errorf("child output lacks the fatal error:\n%s", out)
	}
}

func fatalChild() {
	ctx := context.Background()
	armed, inj := injectWAL(errorfs.OpFileSync, fmt.Errorf("injected fsync failure: %w", syscall.EIO))
	cfg := DefaultConfig("/db")
	cfg.FS = errorfs.Wrap(vfs.NewMem(), inj)
	l, err := Open(ctx, cfg)
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	if _, _, err := l.AppendWait(ctx, testEntry(0)); err != nil {
		fmt.Println("append:", err)
		return
	}
	fmt.Println("ARMED")
	armed.Store(true)
	if _, _, err := l.AppendWait(ctx, testEntry(1)); err == nil {
		fmt.Println("ACKED-AFTER-FAILURE")
	}
	time.Sleep(time.Second)
	fmt.Println("STILL RUNNING")
}

// TestWriteOrdersWithEvents: a Write lands after every event queued before it
// and consumes no seq; its done fires once durable.
func TestWriteOrdersWithEvents(t *testing.T) {
	for _, mode := range []Durability{SyncPerGroup, SyncInterval} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := context.Background()
			l, cfg := openTestLog(t, func(c *Config) { c.Durability = mode; c.Signer = NewSigner(testKey(t)) })
			key := []byte{PrefixSession, 'w'}
			var wrote sync.WaitGroup
			for i := range 100 {
				e := testEntry(i)
				e.Also = func(seq uint64, set func(k, v []byte)) { set(key, fmt.Appendf(nil, "event %d", seq)) }
				if err := l.Append(ctx, e); err != nil {
					t.Fatal(err)
				}
				if i%10 == 9 {
					wrote.Add(1)
					n := i
					if err := l.Write(ctx, func(set func(k, v []byte)) { set(key, fmt.Appendf(nil, "write after %d", n)) },
						func(err error) {
							if err != nil {
								t.Error(err)
							}
							wrote.Done()
						}); err != nil {
						t.Fatal(err)
					}
				}
			}
			wrote.Wait()
			if d := l.Durable(); d != 100 {
				t.Fatalf("durable %d after 100 events and 10 writes, want 100 (writes take no seq)", d)
			}
			l.WaitSigned(ctx, 100)
			verifyAll(t, l, testKey(t).Public().(ed25519.PublicKey))
			l.Close()
			l, err := Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			v, c, err := l.DB().Get(key)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if string(v) != "write after 99" {
				t.Fatalf("last value %q, want the write queued after the last event", v)
			}
		})
	}
}

// TestSyncWithoutEvents: a barrier (an event-less Write) with nothing else
// queued still completes, in both modes — it once waited forever in
// interval mode, hanging shutdown.
func TestSyncWithoutEvents(t *testing.T) {
	for _, mode := range []Durability{SyncPerGroup, SyncInterval} {
		t.Run(mode.String(), func(t *testing.T) {
			l, _ := openTestLog(t, func(c *Config) { c.Durability = mode })
			defer l.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := l.Sync(ctx); err != nil {
				t.Fatalf("Sync on an empty log: %v", err)
			}
			if _, _, err := l.AppendWait(ctx, testEntry(0)); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if err := l.Sync(ctx); err != nil {
					t.Fatalf("Sync after the events are durable: %v", err)
				}
			}
		})
	}
}
