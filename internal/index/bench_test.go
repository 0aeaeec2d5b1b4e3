package index

import "testing"

// BenchmarkExtract: parsing one realistic execution report's Header and
// Payload into the index's fields.
func BenchmarkExtract(b *testing.B) {
	l := openLog(b, b.TempDir())
	defer closeLog(b, l)
	ms, _ := fixture()
	appendAll(b, l, ms[5:6])
	r, err := l.Get(0)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(r.Header) + len(r.Payload)))
	b.ReportAllocs()
	var f fields
	for b.Loop() {
		if err := extract(r, &f); err != nil {
			b.Fatal(err)
		}
	}
}
