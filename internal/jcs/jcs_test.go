package jcs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	gowebpki "github.com/gowebpki/jcs"
)

// cyberphoneVector is one conformance pair from testdata/cyberphone (see
// PROVENANCE.md there).
type cyberphoneVector struct {
	name   string
	input  []byte
	output []byte
	outhex []byte // parsed from outhex/<name>.txt
}

func loadCyberphone(tb testing.TB) []cyberphoneVector {
	tb.Helper()
	dir := filepath.Join("testdata", "cyberphone")
	inputs, err := filepath.Glob(filepath.Join(dir, "input", "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(inputs) == 0 {
		tb.Fatalf("no vectors under %s", dir)
	}
	var vs []cyberphoneVector
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		v := cyberphoneVector{name: name}
		if v.input, err = os.ReadFile(in); err != nil {
			tb.Fatal(err)
		}
		if v.output, err = os.ReadFile(filepath.Join(dir, "output", name+".json")); err != nil {
			tb.Fatal(err)
		}
		hexText, err := os.ReadFile(filepath.Join(dir, "outhex", name+".txt"))
		if err != nil {
			tb.Fatal(err)
		}
		// The outhex format is hex bytes separated by whitespace.
		for _, field := range strings.Fields(string(hexText)) {
			b, err := hex.DecodeString(field)
			if err != nil || len(b) != 1 {
				tb.Fatalf("%s: outhex field %q is not one hex byte", name, field)
			}
			v.outhex = append(v.outhex, b[0])
		}
		vs = append(vs, v)
	}
	return vs
}

func TestCyberphoneVectors(t *testing.T) {
	for _, v := range loadCyberphone(t) {
		t.Run(v.name, func(t *testing.T) {
			if !bytes.Equal(v.output, v.outhex) {
				t.Fatalf("output/%s.json and outhex/%s.txt disagree:\n%x\n%x", v.name, v.name, v.output, v.outhex)
			}
			got, err := Transform(v.input)
			if err != nil {
				t.Fatalf("Transform: %v", err)
			}
			if !bytes.Equal(got, v.output) {
				t.Errorf("Transform:\n got %s\nwant %s", got, v.output)
			}
			if again, err := Transform(got); err != nil || !bytes.Equal(again, got) {
				t.Errorf("Transform(Transform(in)) = %s, %v; want a fixed point", again, err)
			}
		})
	}
}

// TestCyberphoneVectorsGowebpki runs the same vectors through the
// independent implementation the fuzz test compares against, so that a
// failure there is known to be ours and not the reference's.
func TestCyberphoneVectorsGowebpki(t *testing.T) {
	for _, v := range loadCyberphone(t) {
		got, err := gowebpki.Transform(v.input)
		if err != nil {
			t.Errorf("%s: gowebpki/jcs.Transform: %v", v.name, err)
			continue
		}
		if !bytes.Equal(got, v.output) {
			t.Errorf("%s: gowebpki/jcs.Transform:\n got %s\nwant %s", v.name, got, v.output)
		}
	}
}

func TestTransform(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`null`, `null`},
		{" \t\r\ntrue \t\r\n", `true`},
		{`false`, `false`},
		{`0`, `0`},
		{`-0`, `0`},
		{`-0.0`, `0`},
		{`0e10`, `0`},
		{`1E2`, `100`},
		{`123456789012345`, `123456789012345`},
		{`-123456789012345`, `-123456789012345`},
		{`1234567890123456`, `1234567890123456`},
		{`9007199254740993`, `9007199254740992`}, // rounds to a double
		{`1e21`, `1e+21`},
		{`1e-7`, `1e-7`},
		{`0.000001`, `0.000001`},
		{`1e-400`, `0`}, // underflow rounds to zero, as in ECMAScript
		{`-1e-400`, `0`},
		{`""`, `""`},
		{`"\/\b\f\n\r\t\"\\"`, `"/\b\f\n\r\t\"\\"`},
		{`"\u0000\u001F\u007f\u00E9"`, `"\u0000\u001f` + "\u007f\u00e9" + `"`},
		{`"\uD83D\uDE02"`, `"😂"`},
		{`"<>&` + "\u2028\u2029" + `"`, `"<>&` + "\u2028\u2029" + `"`},
		{`[]`, `[]`},
		{`{}`, `{}`},
		{`[ 1 , [ ] , { } ]`, `[1,[],{}]`},
		{`{"b":1,"a":{"d":[{"z":0,"y":1}],"c":null}}`, `{"a":{"c":null,"d":[{"y":1,"z":0}]},"b":1}`},
		{`{"\u0061b":1,"a":2}`, `{"a":2,"ab":1}`},
		// UTF-16 order: U+10000 (D800 DC00) sorts before U+E000.
		{`{"` + "\ue000" + `":1,"` + "\U00010000" + `":2,"z":3}`, `{"z":3,"` + "\U00010000" + `":2,"` + "\ue000" + `":1}`},
		{strings.Repeat("[", 1000) + strings.Repeat("]", 1000), strings.Repeat("[", 1000) + strings.Repeat("]", 1000)},
		{strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000), strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000)},
	} {
		got, err := Transform([]byte(tc.in))
		if err != nil {
			t.Errorf("Transform(%q): %v", tc.in, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("Transform(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	deep := func(n int, open, close string) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	for _, tc := range []struct {
		name   string
		in     string
		want   error
		offset int // -1: do not check
	}{
		// invalid UTF-8
		{"raw 0xff in string", "[\"a\xffb\"]", ErrInvalidUTF8, 3},
		{"raw 0xff outside string", "[1,\xff]", ErrInvalidUTF8, 3},
		{"truncated sequence", "\"\xe2\x82\"", ErrInvalidUTF8, 1},
		{"overlong slash", "\"\xc0\xaf\"", ErrInvalidUTF8, 1},
		{"UTF-8 surrogate half", "\"\xed\xa0\x80\"", ErrInvalidUTF8, 1},
		{"beyond U+10FFFF", "\"\xf4\x90\x80\x80\"", ErrInvalidUTF8, 1},
		{"invalid after escape", "\"\\n\xff\"", ErrInvalidUTF8, 3},
		{"invalid in key", "{\"\xff\":1}", ErrInvalidUTF8, 2},
		// lone surrogates
		{"lone high", `"\ud800"`, ErrLoneSurrogate, 1},
		{"lone low", `"\udc00"`, ErrLoneSurrogate, 1},
		{"lone low upper-case", `"x\uDFFF"`, ErrLoneSurrogate, 2},
		{"high then non-low escape", `"\ud800\u0041"`, ErrLoneSurrogate, 1},
		{"high then high", `"\ud83d\ud83d"`, ErrLoneSurrogate, 1},
		{"high then text", `"\ud83dx"`, ErrLoneSurrogate, 1},
		{"high then other escape", `"\ud83d\n"`, ErrLoneSurrogate, 1},
		{"high at end of string", `"\ud83d"`, ErrLoneSurrogate, 1},
		{"low then high", `"\ude02\ud83d"`, ErrLoneSurrogate, 1},
		{"lone surrogate in key", `{"\udead":1}`, ErrLoneSurrogate, 2},
		// duplicate keys
		{"duplicate", `{"a":1,"a":2}`, ErrDuplicateKey, 7},
		{"duplicate after unescaping", `{"a":1,"\u0061":2}`, ErrDuplicateKey, 7},
		{"duplicate non-adjacent", `{"b":1,"a":2,"b":3}`, ErrDuplicateKey, 13},
		{"duplicate surrogate pair", `{"😂":1,"\ud83d\ude02":2}`, ErrDuplicateKey, 10},
		{"duplicate nested", `[{"x":{"k":1,"k":1}}]`, ErrDuplicateKey, 13},
		{"duplicate empty", `{"":1,"":2}`, ErrDuplicateKey, 6},
		// trailing data
		{"trailing garbage", `{"a":1} x`, ErrSyntax, 8},
		{"two values", `1 2`, ErrSyntax, 2},
		{"extra bracket", `[]]`, ErrSyntax, 2},
		{"two objects", `{}{}`, ErrSyntax, 2},
		{"trailing NUL", "null\x00", ErrSyntax, 4},
		// numbers
		{"overflow", `1e400`, ErrNonFinite, 0},
		{"negative overflow", `[-1e400]`, ErrNonFinite, 1},
		{"overflow by digits", "1" + strings.Repeat("0", 400), ErrNonFinite, 0},
		{"NaN", `NaN`, ErrSyntax, 0},
		{"Infinity", `-Infinity`, ErrSyntax, 1},
		{"leading zero", `01`, ErrSyntax, 1},
		{"leading plus", `+1`, ErrSyntax, 0},
		{"bare minus", `-`, ErrSyntax, 1},
		{"no fraction digits", `1.`, ErrSyntax, 2},
		{"no integer digits", `.5`, ErrSyntax, 0},
		{"no exponent digits", `1e+`, ErrSyntax, 3},
		{"hex", `0x10`, ErrSyntax, 1},
		// depth
		{"arrays 1001 deep", deep(1001, "[", "]"), ErrTooDeep, 1000},
		{"objects 1001 deep", strings.Repeat(`{"a":`, 1001) + "1" + strings.Repeat("}", 1001), ErrTooDeep, 5000},
		{"mixed 1001 deep", strings.Repeat(`[{"a":`, 501), ErrTooDeep, 3000},
		// other syntax
		{"empty", ``, ErrSyntax, 0},
		{"whitespace only", " \n", ErrSyntax, 2},
		{"BOM", "\ufeff{}", ErrSyntax, 0},
		{"trailing comma", `[1,]`, ErrSyntax, 3},
		{"leading comma", `[,1]`, ErrSyntax, 1},
		{"missing colon", `{"a" 1}`, ErrSyntax, 5},
		{"missing value", `{"a":}`, ErrSyntax, 5},
		{"unquoted key", `{a:1}`, ErrSyntax, 1},
		{"single quotes", `'a'`, ErrSyntax, 0},
		{"unterminated string", `"abc`, ErrSyntax, 0},
		{"unterminated after escape", `"a\`, ErrSyntax, 0},
		{"raw control", "\"a\tb\"", ErrSyntax, 2},
		{"raw newline", "\"a\nb\"", ErrSyntax, 2},
		{"bad escape", `"\x41"`, ErrSyntax, 1},
		{"bad hex", `"\u12g4"`, ErrSyntax, 1},
		{"short hex", `"\u12"`, ErrSyntax, 1},
		{"bad low hex", `"\ud800\uzzzz"`, ErrSyntax, 7},
		{"truncated literal", `tru`, ErrSyntax, 0},
		{"literal case", `True`, ErrSyntax, 0},
		{"literal suffix", `nullx`, ErrSyntax, 4},
		{"unclosed array", `[1`, ErrSyntax, 2},
		{"unclosed object", `{"a":1`, ErrSyntax, 6},
		{"comment", `[1/*c*/]`, ErrSyntax, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Transform([]byte(tc.in))
			if err == nil {
				t.Fatalf("Transform(%q) = %q, want error %v", tc.in, out, tc.want)
			}
			if out != nil {
				t.Errorf("Transform returned output %q along with the error", out)
			}
			checkError(t, err, tc.want, tc.offset)
		})
	}
}

// checkError checks that err is an *Error wrapping want, at offset unless
// offset is -1, with a message starting with the sentinel's.
func checkError(t *testing.T, err, want error, offset int) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("error %q is not %q", err, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %q (%T) is not a *jcs.Error", err, err)
	}
	if e.Err != want {
		t.Errorf("Error.Err = %v, want %v", e.Err, want)
	}
	if offset != -1 && e.Offset != offset {
		t.Errorf("Error.Offset = %d, want %d (%v)", e.Offset, offset, err)
	}
	if !strings.HasPrefix(err.Error(), want.Error()) {
		t.Errorf("message %q does not start with %q", err, want)
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Transform([]byte(`{"a":1,"\u0061":2}`))
	if got, want := err.Error(), `jcs: duplicate object key at offset 7: "a"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = AppendInt(nil, math.MaxInt64)
	if got, want := err.Error(), `jcs: integer outside ±(2^53-1): 9223372036854775807`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Details are quoted and bounded: nothing raw from the input.
	_, err = Transform([]byte(`{"` + strings.Repeat("\n", 100) + `":1,"` + strings.Repeat(`\n`, 100) + `":2}`))
	if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 200 {
		t.Errorf("unbounded or raw detail: %q", msg)
	}
}

func TestAppendErrors(t *testing.T) {
	prefix := []byte("prefix")
	check := func(name string, got []byte, err, want error, offset int) {
		t.Run(name, func(t *testing.T) {
			if err == nil {
				t.Fatalf("got %q, want error %v", got, want)
			}
			checkError(t, err, want, offset)
			if string(got) != "prefix" {
				t.Errorf("dst = %q on error, want it unchanged", got)
			}
		})
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		got, err := AppendFloat(slices.Clone(prefix), f)
		check("AppendFloat "+strconv.FormatFloat(f, 'g', -1, 64), got, err, ErrNonFinite, -1)
	}
	for _, i := range []int64{1 << 53, -(1 << 53), 1<<53 + 1, math.MaxInt64, math.MinInt64} {
		got, err := AppendInt(slices.Clone(prefix), i)
		check("AppendInt "+strconv.FormatInt(i, 10), got, err, ErrUnsafeInteger, -1)
	}
	for _, tc := range []struct {
		s      string
		offset int
	}{
		{"\xff", 0},
		{"abc\x80", 3},
		{"a\"b\xc3", 3},           // escape, then a truncated sequence
		{"é\xed\xa0\x80", 2},      // UTF-8 surrogate half
		{"\n\xf8\x88\x80\x80", 1}, // 5-byte form
	} {
		got, err := AppendString(slices.Clone(prefix), tc.s)
		check("AppendString "+strconv.Quote(tc.s), got, err, ErrInvalidUTF8, tc.offset)
	}
}

func TestAppendIntRange(t *testing.T) {
	for _, i := range []int64{0, 1, -1, 42, maxSafeInteger, -maxSafeInteger} {
		got, err := AppendInt([]byte("x"), i)
		if err != nil {
			t.Fatalf("AppendInt(%d): %v", i, err)
		}
		want, _ := AppendFloat([]byte("x"), float64(i))
		if string(got) != string(want) || string(got) != "x"+strconv.FormatInt(i, 10) {
			t.Errorf("AppendInt(%d) = %q; AppendFloat gives %q", i, got, want)
		}
	}
}

// gowebpkiString is the reference rendering of s: encoding/json escapes it
// its own way (\u003c for '<', \u2028, ...) and gowebpki/jcs canonicalizes.
func gowebpkiString(t *testing.T, s string) string {
	t.Helper()
	marshaled, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := gowebpki.Transform(marshaled)
	if err != nil {
		t.Fatalf("gowebpki/jcs.Transform(%s): %v", marshaled, err)
	}
	return string(want)
}

func TestAppendStringVsGowebpki(t *testing.T) {
	var strs []string
	for r := rune(0); r < 0x80; r++ {
		strs = append(strs, string(r))
	}
	strs = append(strs,
		"é", "€", "\u2028", "\u2029", "\ufeff", "\ufffd", "\ue000", "\uffff",
		"\U00010000", "😂", "\U0010ffff", "דּ", "A\u030a",
		"", "plain ascii text", `<script>&"quoted"\</script>`,
		"mixed: naïve café – 東京 😂 \x01\x1f\x7f\t\n",
	)
	for _, s := range strs {
		got, err := AppendString([]byte("dst:"), s)
		if err != nil {
			t.Errorf("AppendString(%q): %v", s, err)
			continue
		}
		if want := "dst:" + gowebpkiString(t, s); string(got) != want {
			t.Errorf("AppendString(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestAppendStringEscapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"\x00", `"\u0000"`},
		{"\x08\x09\x0a\x0b\x0c\x0d", `"\b\t\n\u000b\f\r"`},
		{"\x1f", `"\u001f"`},
		{"\x7f", "\"\x7f\""},
		{`"\`, `"\"\\"`},
		{"/", `"/"`},
	} {
		got, err := AppendString(nil, tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("AppendString(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestAppendStringAllocs(t *testing.T) {
	dst := make([]byte, 0, 256)
	for _, s := range []string{"OrderID-20240101-0001", "naïve café – 東京 😂 \"q\"\n"} {
		allocs := testing.AllocsPerRun(100, func() {
			_, _ = AppendString(dst[:0], s)
		})
		if allocs != 0 {
			t.Errorf("AppendString(%q) into a roomy dst: %v allocs, want 0", s, allocs)
		}
	}
}

// TestRFC8785AppendixB is Table 1 of RFC 8785 Appendix B.
func TestRFC8785AppendixB(t *testing.T) {
	for _, tc := range []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	} {
		f := math.Float64frombits(tc.bits)
		got, err := AppendFloat(nil, f)
		if err != nil || string(got) != tc.want {
			t.Errorf("AppendFloat(%016x) = %q, %v; want %q", tc.bits, got, err, tc.want)
		}
	}
	for _, bits := range []uint64{0x7fffffffffffffff, 0x7ff0000000000000} {
		if _, err := AppendFloat(nil, math.Float64frombits(bits)); !errors.Is(err, ErrNonFinite) {
			t.Errorf("AppendFloat(%016x): err = %v, want ErrNonFinite", bits, err)
		}
	}
}

// gowebpkiNumber canonicalizes f with gowebpki/jcs by transforming
// "[<shortest text of f>]".
func gowebpkiNumber(t *testing.T, f float64) string {
	t.Helper()
	in := "[" + strconv.FormatFloat(f, 'g', -1, 64) + "]"
	out, err := gowebpki.Transform([]byte(in))
	if err != nil {
		t.Fatalf("gowebpki/jcs.Transform(%s): %v", in, err)
	}
	return string(out[1 : len(out)-1])
}

func TestAppendFloatVsGowebpki(t *testing.T) {
	tricky := []float64{
		1e21, 1e-7, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, math.Copysign(0, -1),
		123456789012345680000, 1e20,
		0, 1, -1, 1e-6, 9.999999999999999e-7, 1e-6 * 0.9999999999999999,
		999999999999999900000, 1e21 * 0.9999999999999999, 1e22, 1e23, 1e-323, 2.2250738585072014e-308,
		-1e-7, -1e21, 1.5, -2.5e-8, 123.456, 4.35, 0.000001234, 1234567.125, 9007199254740993,
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.Pi, math.E,
	}
	for _, f := range tricky {
		got, err := AppendFloat(nil, f)
		if err != nil {
			t.Errorf("AppendFloat(%v): %v", f, err)
			continue
		}
		if want := gowebpkiNumber(t, f); string(got) != want {
			t.Errorf("AppendFloat(%v) = %s, gowebpki gives %s", f, got, want)
		}
	}
}

func TestAppendFloatRandomVsGowebpki(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	rng := rand.New(rand.NewPCG(8785, 2020)) // fixed seed: reproducible
	buf := make([]byte, 0, 32)
	for tested := 0; tested < n; {
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		tested++
		got, err := AppendFloat(buf[:0], f)
		if err != nil {
			t.Fatalf("AppendFloat(%016x): %v", math.Float64bits(f), err)
		}
		if want := gowebpkiNumber(t, f); string(got) != want {
			t.Fatalf("AppendFloat(%016x = %v) = %s, gowebpki gives %s", math.Float64bits(f), f, got, want)
		}
		// The canonical text must read back as the same double.
		if back, err := strconv.ParseFloat(string(got), 64); err != nil || back != f {
			t.Fatalf("AppendFloat(%v) = %s reads back as %v, %v", f, got, back, err)
		}
	}
}

// lessUTF16 is Less done the slow, obvious way: convert to UTF-16 and
// compare code units.
func lessUTF16(a, b string) bool {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b))) < 0
}

func TestLess(t *testing.T) {
	// RFC 8785 §3.2.3's sample, in its expected order, plus neighbours.
	ordered := []string{
		"", "\r", "1", "a", "aa", "ab", "\u0080", "\u00f6", "\u20ac",
		"\ud7ff", "\U00010000", "\U0001f600", "\U0010ffff", "\ue000", "\ufb33", "\uffff",
	}
	for i, a := range ordered {
		for j, b := range ordered {
			if got, want := Less(a, b), i < j; got != want {
				t.Errorf("Less(%q, %q) = %v, want %v", a, b, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune{'a', 'b', 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff}
	randString := func() string {
		r := make([]rune, rng.IntN(4))
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(r)
	}
	for range 20000 {
		a, b := randString(), randString()
		if got, want := Less(a, b), lessUTF16(a, b); got != want {
			t.Fatalf("Less(%q, %q) = %v, want %v", a, b, got, want)
		}
	}
}
