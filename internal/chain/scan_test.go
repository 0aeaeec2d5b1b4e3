package chain

import (
	"context"
	"errors"
	"testing"
)

// TestScanRecords: every durable record of a range once, in order, straight
// from Pebble; a range past the end names the first missing seq; a
// cancelled context stops the scan.
func TestScanRecords(t *testing.T) {
	ctx := t.Context()
	l, _ := openTestLog(t, nil)
	defer l.Close()
	const n = 2100
	for i := range n {
		if _, _, err := l.AppendWait(ctx, testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []uint64
	if err := ScanRecords(ctx, l.DB(), 5, n, func(r *Record) error {
		want, err := l.Get(r.Seq)
		if err != nil {
			return err
		}
		if r.Hash != want.Hash {
			t.Fatalf("seq %d: hash %x, Get says %x", r.Seq, r.Hash, want.Hash)
		}
		seqs = append(seqs, r.Seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seqs) != n-5 || seqs[0] != 5 || seqs[len(seqs)-1] != n-1 {
		t.Fatalf("scanned %d records, %v..%v", len(seqs), seqs[0], seqs[len(seqs)-1])
	}
	for i, s := range seqs {
		if s != uint64(5+i) {
			t.Fatalf("record %d is seq %d", i, s)
		}
	}

	var me *MissingRecordError
	err := ScanRecords(ctx, l.DB(), n-2, n+3, func(*Record) error { return nil })
	if !errors.As(err, &me) || me.Seq != n {
		t.Fatalf("scan past the end = %v, want *MissingRecordError at seq %d", err, n)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := ScanRecords(cctx, l.DB(), 0, n, func(*Record) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan = %v", err)
	}
}
