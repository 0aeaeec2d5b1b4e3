package chain

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/fixtap/fixtap/internal/jcs"
)

// Canonical encoding of typed events straight to RFC 8785 bytes.
//
// encoding/json followed by a JCS transform would parse and re-emit every
// event; on the per-message path we instead walk the typed struct once with
// a cached, pre-sorted field plan per type. The plan follows the `json`
// struct tags, so the bytes equal jcs.Transform(json.Marshal(v)) — a test and
// a fuzz target (canonical_test.go) check exactly that against the
// independent github.com/gowebpki/jcs.
//
// Supported kinds: strings (UTF-8 only), bools, integers within ±(2^53−1),
// pointers to and values of structs, slices, and maps with string keys.
// Floats are refused: every number that matters in an event is a decimal
// string, and a float would make the hash depend on formatting.

// CanonicalError says which field could not be canonicalized and why; Err
// wraps a jcs sentinel (jcs.ErrInvalidUTF8, jcs.ErrUnsafeInteger) or
// ErrFloat.
type CanonicalError struct {
	Path string
	Err  error
}

func (e *CanonicalError) Error() string {
	return fmt.Sprintf("chain: cannot canonicalize %s: %v", e.Path, e.Err)
}
func (e *CanonicalError) Unwrap() error { return e.Err }

// ErrFloat is wrapped by a CanonicalError for a float-typed field.
var ErrFloat = fmt.Errorf("chain: float values are not allowed in events (use a decimal string)")

// AppendCanonical appends the RFC 8785 canonical JSON of v to dst. On error
// it returns dst unchanged.
func AppendCanonical(dst []byte, v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	out, err := appendValue(dst, rv)
	if err != nil {
		var ce *CanonicalError
		if errors.As(err, &ce) {
			ce.Path = strings.TrimPrefix(ce.Path, ".")
		}
		return dst, err
	}
	return out, nil
}

// wrapPath prefixes the path of a *CanonicalError on its way up; paths are
// built only on error so the success path does not allocate.
func wrapPath(err error, elem string) error {
	ce, ok := err.(*CanonicalError)
	if !ok {
		return &CanonicalError{Path: elem, Err: err}
	}
	ce.Path = elem + ce.Path
	return ce
}

type field struct {
	name      string // JSON key
	key       []byte // `"name":` pre-encoded
	index     int
	omitEmpty bool
}

var plans sync.Map // reflect.Type → []field

func planFor(t reflect.Type) []field {
	if p, ok := plans.Load(t); ok {
		return p.([]field)
	}
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		k, err := jcs.AppendString(nil, name)
		if err != nil {
			panic(fmt.Sprintf("chain: field name %q of %s: %v", name, t, err))
		}
		fs = append(fs, field{name: name, key: append(k, ':'), index: i, omitEmpty: opts == "omitempty"})
	}
	// RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their names.
	slices.SortFunc(fs, func(a, b field) int {
		switch {
		case jcs.Less(a.name, b.name):
			return -1
		case jcs.Less(b.name, a.name):
			return 1
		}
		return 0
	})
	p, _ := plans.LoadOrStore(t, fs)
	return p.([]field)
}

func appendValue(dst []byte, v reflect.Value) ([]byte, error) {
	var err error
	switch v.Kind() {
	case reflect.String:
		dst, err = jcs.AppendString(dst, v.String())
	case reflect.Bool:
		if v.Bool() {
			dst = append(dst, "true"...)
		} else {
			dst = append(dst, "false"...)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		dst, err = jcs.AppendInt(dst, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := v.Uint()
		if u > 1<<53-1 {
			err = jcs.ErrUnsafeInteger
			break
		}
		dst, err = jcs.AppendInt(dst, int64(u))
	case reflect.Float32, reflect.Float64:
		err = ErrFloat
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			dst = append(dst, "null"...)
			break
		}
		return appendValue(dst, v.Elem())
	case reflect.Struct:
		return appendStruct(dst, v)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			dst = append(dst, "null"...)
			break
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			// []byte is a base64 string (standard, padded), as
			// encoding/json writes it, not an array of numbers.
			return jcs.AppendString(dst, base64.StdEncoding.EncodeToString(v.Bytes()))
		}
		dst = append(dst, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendValue(dst, v.Index(i)); err != nil {
				return dst, wrapPath(err, fmt.Sprintf("[%d]", i))
			}
		}
		dst = append(dst, ']')
	case reflect.Map:
		return appendMap(dst, v)
	default:
		err = fmt.Errorf("unsupported kind %s", v.Kind())
	}
	if err != nil {
		return dst, &CanonicalError{Err: err}
	}
	return dst, nil
}

func appendStruct(dst []byte, v reflect.Value) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	for _, f := range planFor(v.Type()) {
		fv := v.Field(f.index)
		if f.omitEmpty && fv.IsZero() {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, f.key...)
		var err error
		if dst, err = appendValue(dst, fv); err != nil {
			return dst, wrapPath(err, "."+f.name)
		}
	}
	return append(dst, '}'), nil
}

func appendMap(dst []byte, v reflect.Value) ([]byte, error) {
	if v.Type().Key().Kind() != reflect.String {
		return dst, &CanonicalError{Err: fmt.Errorf("map key kind %s is not string", v.Type().Key().Kind())}
	}
	if v.IsNil() {
		return append(dst, "null"...), nil
	}
	keys := make([]string, 0, v.Len())
	for _, k := range v.MapKeys() {
		keys = append(keys, k.String())
	}
	slices.SortFunc(keys, func(a, b string) int {
		switch {
		case jcs.Less(a, b):
			return -1
		case jcs.Less(b, a):
			return 1
		}
		return 0
	})
	dst = append(dst, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = jcs.AppendString(dst, k); err != nil {
			return dst, &CanonicalError{Path: "{key}", Err: err}
		}
		dst = append(dst, ':')
		if dst, err = appendValue(dst, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))); err != nil {
			return dst, wrapPath(err, "."+k)
		}
	}
	return append(dst, '}'), nil
}
