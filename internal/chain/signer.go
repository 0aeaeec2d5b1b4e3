package chain

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// Signing beside the chain.
//
// A signature is not part of the EventHash, so it need not hold up the
// chain: the committer hands each committed group's hashes, in chunks, to a
// pool of signer goroutines, and one writer goroutine writes the signature
// records in seq order in their own, unsynced Pebble batches. The durable
// watermark never waits for a signature.
//
// Why unsynced is safe: Ed25519 is deterministic, so a signature lost in a
// crash is recomputed on open with identical bytes (same key). Pebble's WAL
// recovers a prefix of the commit order and the writer commits in seq
// order after the events' own commit, so the signature records on disk are
// always a prefix [0, S) of the signed events, and Open re-signs [S, size).
//
// The queues are bounded: when the signers cannot keep up, dispatch blocks
// the committer and Append's queue fills — backpressure, not loss.
type signPipeline struct {
	l      *Log
	s      *Signer
	work   chan *signJob
	order  chan *signJob
	signed atomic.Uint64
	wg     sync.WaitGroup
}

type signJob struct {
	first  uint64
	hashes []Hash
	sigs   []byte // 64 bytes per hash
	done   chan struct{}
}

// signChunk bounds the work one signer goroutine takes at a time (~1.2 ms
// of Ed25519 here), so a big group is spread over all signers.
const signChunk = 128

func newSignPipeline(l *Log, s *Signer, workers int) *signPipeline {
	sp := &signPipeline{
		l:     l,
		s:     s,
		work:  make(chan *signJob, 4*workers),
		order: make(chan *signJob, 64),
	}
	for range workers {
		sp.wg.Add(1)
		go sp.signLoop()
	}
	sp.wg.Add(1)
	go sp.writeLoop()
	return sp
}

// dispatch queues the signing of a committed group.
func (sp *signPipeline) dispatch(ps []*pending) {
	var j *signJob
	for _, p := range ps {
		if p.kvOnly {
			continue
		}
		if j == nil {
			j = &signJob{first: p.seq, hashes: make([]Hash, 0, min(len(ps), signChunk)), done: make(chan struct{})}
		}
		j.hashes = append(j.hashes, p.hash)
		if len(j.hashes) == signChunk {
			sp.queue(j)
			j = nil
		}
	}
	if j != nil {
		sp.queue(j)
	}
}

func (sp *signPipeline) queue(j *signJob) {
	// order first: the writer waits on jobs in the order they are queued,
	// and every job in order is also in (or about to enter) work.
	sp.order <- j
	sp.work <- j
}

func (sp *signPipeline) signLoop() {
	defer sp.wg.Done()
	for j := range sp.work {
		j.sigs = make([]byte, 0, 64*len(j.hashes))
		for _, h := range j.hashes {
			j.sigs = append(j.sigs, sp.s.Sign(h)...)
		}
		close(j.done)
	}
}

func (sp *signPipeline) writeLoop() {
	defer sp.wg.Done()
	id := sp.s.KeyID()
	kbuf := make([]byte, 0, 9)
	vbuf := make([]byte, 0, sigRecordLen)
	for j := range sp.order {
		<-j.done
		b := sp.l.batch()
		end := sp.add(b, j, id, kbuf, vbuf)
	more:
		for b.Count() < 4096 {
			select {
			case j, ok := <-sp.order:
				if !ok {
					break more
				}
				<-j.done
				end = sp.add(b, j, id, kbuf, vbuf)
			default:
				break more
			}
		}
		if sp.l.stopErr.Load() != nil {
			b.Close()
			continue // drain; the log has stopped
		}
		if err := sp.l.commitBatch(b, pebble.NoSync); err != nil {
			sp.l.fail(fmt.Errorf("write signatures up to seq %d: %w", end-1, err), j.first, end-1)
			continue
		}
		sp.l.recycle(b)
		sp.signed.Store(end)
	}
}

func (sp *signPipeline) add(b *pebble.Batch, j *signJob, id KeyID, kbuf, vbuf []byte) uint64 {
	for i := range j.hashes {
		_ = b.Set(appendSeqKey(kbuf[:0], PrefixSignature, j.first+uint64(i)),
			appendSigRecord(vbuf[:0], id, j.sigs[64*i:64*i+64]), nil)
	}
	return j.first + uint64(len(j.hashes))
}

// stop lets the signers finish every queued job and the writer write them.
// The committer must have exited.
func (sp *signPipeline) stop() {
	close(sp.order)
	close(sp.work)
	sp.wg.Wait()
}

// Signed returns the size of the signed prefix: every seq below it has a
// signature record (perhaps not yet fsync'd; see signer.go). Without a
// Signer it is 0.
func (l *Log) Signed() uint64 {
	if l.sign == nil {
		return 0
	}
	return l.sign.signed.Load()
}

// resign finds the signed prefix after open and queues the rest.
func (l *Log) resign(ctx context.Context) error {
	last, ok, err := l.lastSeq(PrefixSignature)
	if err != nil {
		return err
	}
	var s uint64
	if ok {
		s = last + 1
	}
	size := l.next
	if s > size {
		return &CorruptRecordError{Seq: last, Err: fmt.Errorf("%w: signature beyond log size %d", errRecord, size)}
	}
	l.sign.signed.Store(s)
	var j *signJob
	err = l.scan(s, size, func(r *Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if j == nil {
			j = &signJob{first: r.Seq, done: make(chan struct{})}
		}
		j.hashes = append(j.hashes, r.Hash)
		if len(j.hashes) == signChunk {
			l.sign.queue(j)
			j = nil
		}
		return nil
	})
	if j != nil && err == nil {
		l.sign.queue(j)
	}
	return err
}

// WaitSigned waits until Signed() ≥ size (tests, export).
func (l *Log) WaitSigned(ctx context.Context, size uint64) error {
	return waitFor(ctx, l, func() bool { return l.Signed() >= size })
}
