package jcs

import (
	"testing"
)

func BenchmarkAppendString(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"ASCII20", "ORD-20240611-000042Z"},
		{"MixedUTF8", "Zürich → 東京 \"limit\" 😂\t"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]byte, 0, 128)
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.s)))
			for b.Loop() {
				var err error
				if dst, err = AppendString(dst[:0], bc.s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchDoc is a ~700-byte audit-event-like object: unsorted keys, nested
// object and array, escapes, non-ASCII, integers and fractions.
var benchDoc = []byte(`{
  "payload": {
    "text": "Fill \"partial\"\n café",
    "symbol": "EUR/USD",
    "side": "BUY",
    "ordType": "LIMIT",
    "price": 1.08425,
    "qty": 1000000,
    "leavesQty": 250000,
    "avgPx": 1.084237,
    "clOrdID": "CL-20240611-000042",
    "orderID": "OID-7a1f3c9e",
    "execID": "EX-000000000042",
    "account": "ACC-ZÜRICH-01",
    "transactTime": "20240611-12:34:56.789123456",
    "tags": [35, 49, 56, 52, 122, 150, 39, 1e-7, -0]
  },
  "header": {
    "version": "1.1",
    "eventType": "EXE",
    "eventID": "01907a2b-3c4d-7e8f-9a0b-1c2d3e4f5a6b",
    "timestampISO": "2024-06-11T12:34:56.789123456Z",
    "timestampInt": 1718109296789123,
    "venue": "XLON",
    "seq": 42
  }
}`)

func BenchmarkTransform(b *testing.B) {
	if n := len(benchDoc); n < 650 || n > 800 {
		b.Fatalf("benchDoc is %d bytes, want ~700", n)
	}
	if _, err := Transform(benchDoc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDoc)))
	for b.Loop() {
		if _, err := Transform(benchDoc); err != nil {
			b.Fatal(err)
		}
	}
}
