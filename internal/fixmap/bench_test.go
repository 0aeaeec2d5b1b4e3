package fixmap

import "testing"

// BenchmarkMap parses (strictly) and maps a typical FIX 4.4 partial-fill
// ExecutionReport with a pseudonymized account.
func BenchmarkMap(b *testing.B) {
	raw := buildFIX(fix44, er(12, "F", "1", "700")...)
	cfg := testConfig()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cfg.Map(m, raw, testSession); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse is the scanner alone.
func BenchmarkParse(b *testing.B) {
	raw := buildFIX(fix44, er(12, "F", "1", "700")...)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMapBytes is the tap's call: strict parse into a pooled Message,
// then map.
func BenchmarkMapBytes(b *testing.B) {
	raw := buildFIX(fix44, er(12, "F", "1", "700")...)
	cfg := testConfig()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.MapBytes(raw, testSession, ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
