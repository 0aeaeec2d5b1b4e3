package chain

import (
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/minio/minlz"
)

// BenchmarkRecordCompression: how much one stored record (benchEntry's
// ~1 KB: canonical Header and Payload plus the raw FIX) shrinks, and at
// what cost, with the codecs already in the module graph (Pebble's). It
// is why the log does not compress records to get under the disk's floor
// (BenchmarkDiskFloor, docs/performance.md): the fast codecs gain ~1.3×
// (hex hashes and IDs do not compress), and zstd's ~1.6× costs several µs
// a record. Reports ratio (input/output bytes) and ns per record.
//
//	go test -run '^$' -bench RecordCompression ./internal/chain
func BenchmarkRecordCompression(b *testing.B) {
	var recs [][]byte
	for i := range 4096 {
		r, _, _, err := buildRecord(nil, benchEntry(i*7919))
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, r[recordFixedLen:]) // the hashes are patched in later and are random
	}
	zf, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	defer zf.Close()
	codecs := []struct {
		name string
		f    func(dst, src []byte) []byte
	}{
		{"snappy", func(d, s []byte) []byte { return snappy.Encode(d[:cap(d)], s) }},
		{"s2", func(d, s []byte) []byte { return s2.Encode(d[:cap(d)], s) }},
		{"minlz-fastest", func(d, s []byte) []byte {
			out, err := minlz.Encode(d[:cap(d)], s, minlz.LevelFastest)
			if err != nil {
				b.Fatal(err)
			}
			return out
		}},
		{"zstd-fastest", func(d, s []byte) []byte { return zf.EncodeAll(s, d[:0]) }},
	}
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]byte, 0, 8192)
			in, out := 0, 0
			i := 0
			for b.Loop() {
				r := recs[i%len(recs)]
				in += len(r)
				out += len(c.f(dst, r))
				i++
			}
			b.ReportMetric(float64(in)/float64(out), "ratio")
		})
	}
}
