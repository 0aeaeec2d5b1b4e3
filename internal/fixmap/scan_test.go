package fixmap

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseFields(t *testing.T) {
	raw := buildFIX(fix44, hdr("8", 3, "552=2", "54=1", "37=A", "54=2", "37=B", "58=x=y")...)
	m := mustParse(t, raw)
	if m.BeginString() != fix44 || m.MsgType() != "8" {
		t.Fatalf("header %q %q", m.BeginString(), m.MsgType())
	}
	if v, ok := m.Get(37); !ok || v != "A" {
		t.Fatalf("Get(37) = %q, %t; want first occurrence", v, ok)
	}
	if v, _ := m.Get(58); v != "x=y" {
		t.Fatalf("Get(58) = %q", v)
	}
	if _, ok := m.Get(999); ok {
		t.Fatal("Get of absent tag")
	}
	n := 0
	for _, f := range m.Fields {
		if f.Tag == 54 {
			n++
		}
		// Values alias raw.
		if &f.Value[0] != &raw[f.Offset] {
			t.Fatalf("tag %d value is a copy", f.Tag)
		}
	}
	if n != 2 {
		t.Fatalf("duplicates not preserved: %d Side fields", n)
	}
	// Strings survive reuse of the raw buffer.
	s, _ := m.Get(37)
	for i := range raw {
		raw[i] = 'X'
	}
	if s != "A" {
		t.Fatal("string accessor aliases the raw buffer")
	}
}

func TestParseErrors(t *testing.T) {
	good := buildFIX(fix44, hdr("0", 1)...)
	replace := func(old, new string) []byte {
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	cases := []struct {
		name    string
		raw     []byte
		lenient bool
		want    error
		tag     int
	}{
		{"empty", nil, false, ErrMalformed, 0},
		{"no SOH at end", good[:len(good)-1], false, ErrMalformed, 10},
		{"no equals", []byte("8FIX.4.4\x01"), false, ErrMalformed, 8},
		{"tag leading zero", replace("\x0156=", "\x01056="), true, ErrMalformed, 0},
		{"not a tag", replace("\x0156=", "\x01x6="), true, ErrMalformed, 0},
		{"empty value", replace("56=TAP", "56="), true, ErrMalformed, 56},
		{"BeginString not first", append([]byte("9=5\x01"), good...), true, ErrMalformed, 8},
		{"MsgType not third", buildFIX(fix44, "49=VENUE", "35=0"), true, ErrMalformed, 35},
		{"no trailer", good[:bytes.LastIndex(good, []byte("10="))], true, ErrMalformed, 10},
		{"checksum not 3 digits", replace("10=", "10=1"), true, ErrMalformed, 10},
		{"BodyLength not numeric", replace("9=", "9=x"), true, ErrMalformed, 9},
		{"repeated MsgType", buildFIX(fix44, "35=0", "35=1"), true, ErrMalformed, 35},
		{"body length", replace("56=TAP", "56=TAPX"), false, ErrBodyLength, 9},
		{"checksum", replace("56=TAP", "56=TAQ"), false, ErrChecksum, 10},
		{"too large", make([]byte, MaxMessageSize+1), false, ErrMalformed, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseWith(c.raw, ParseOptions{Lenient: c.lenient})
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want a *ParseError wrapping %v", err, c.want)
			}
			if c.tag != 0 && pe.Tag != c.tag {
				t.Fatalf("Tag = %d, want %d (%v)", pe.Tag, c.tag, err)
			}
			if !strings.HasPrefix(err.Error(), "fixmap: ") {
				t.Fatalf("message %q lacks the package prefix", err)
			}
		})
	}
	// The same damaged trailers pass when lenient.
	for _, raw := range [][]byte{replace("56=TAP", "56=TAPX"), replace("56=TAP", "56=TAQ")} {
		if _, err := ParseWith(raw, ParseOptions{Lenient: true}); err != nil {
			t.Fatalf("lenient: %v", err)
		}
	}
}

func TestParseDataField(t *testing.T) {
	// RawData (96) may hold SOH and '='; RawDataLength (95) sizes it.
	raw := buildFIX(fix44, hdr("B", 2, "148=news", "95=7", "96=a\x01b=c\x01d", "58=after")...)
	m := mustParse(t, raw)
	if v, _ := m.Get(96); v != "a\x01b=c\x01d" {
		t.Fatalf("RawData = %q", v)
	}
	if v, _ := m.Get(58); v != "after" {
		t.Fatalf("field after data = %q", v)
	}
	bad := buildFIX(fix44, hdr("B", 2, "95=70", "96=short")...)
	if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("overlong data length: %v", err)
	}
}

func TestGroup(t *testing.T) {
	m := mustParse(t, buildFIX(fix44, tcr(1, "0")...))
	sides, err := m.Group(552, 54, sideGroupTags...)
	if err != nil || len(sides) != 2 {
		t.Fatalf("Group = %d entries, %v", len(sides), err)
	}
	for i, want := range []struct{ side, order, acct string }{{"1", "ORD-B", "ACCT-B"}, {"2", "ORD-S", "ACCT-S"}} {
		s, _ := sides[i].Get(54)
		o, _ := sides[i].Get(37)
		a, _ := sides[i].Get(1)
		if s != want.side || o != want.order || a != want.acct {
			t.Fatalf("side %d = %s %s %s", i, s, o, a)
		}
	}
	// The last entry ends at the first non-member tag.
	if _, ok := sides[1].Get(10001); ok {
		t.Fatal("last entry ran past the group")
	}
	// Absent group: no entries, no error.
	if e, err := m.Group(453+10000, 448); e != nil || err != nil {
		t.Fatalf("absent group: %v %v", e, err)
	}
	for name, fields := range map[string][]string{
		"count too high":     hdr("AE", 1, "552=3", "54=1", "54=2"),
		"bad first tag":      hdr("AE", 1, "552=1", "37=X", "54=1"),
		"count not a number": hdr("AE", 1, "552=two", "54=1"),
	} {
		m := mustParse(t, buildFIX(fix44, fields...))
		if _, err := m.Group(552, 54, 37); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestIsPositiveDecimal(t *testing.T) {
	for s, want := range map[string]bool{
		"0": false, "0.0": false, "000.000": false, "-0": false, "-5": false, "+0": false,
		"1": true, "0.0000000001": true, "1000": true, "+3": true, "12.": true, ".5": true,
		"99999999999999999999999999.1": true,
	} {
		got, err := isPositiveDecimal(s)
		if err != nil || got != want {
			t.Errorf("isPositiveDecimal(%q) = %t, %v; want %t", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-", ".", "1e3", "1.2.3", "NaN", " 1", "1,000"} {
		if _, err := isPositiveDecimal(s); err == nil {
			t.Errorf("isPositiveDecimal(%q) accepted", s)
		}
	}
}
