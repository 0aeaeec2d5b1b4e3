package tapconfig

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Error is one refusal of a session file, naming the file, the line and
// the key (Key is empty for errors about a whole line or section).
type Error struct {
	File       string
	Line       int
	Key        string
	Msg        string
	Suggestion string // nearest valid key, for a typo
	Err        error  // underlying cause, if any (e.g. *chain.KeyFileModeError)
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s:%d: ", e.File, e.Line)
	if e.Key != "" {
		s += fmt.Sprintf("key %q: ", e.Key)
	}
	s += e.Msg
	if e.Suggestion != "" {
		s += fmt.Sprintf(" (did you mean %q?)", e.Suggestion)
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// errList collects errors for one file.
type errList struct {
	file string
	errs []*Error
	bad  map[lineKey]bool // (line, key) pairs with an error
}

type lineKey struct {
	line int
	key  string
}

func (l *errList) add(line int, key, format string, args ...any) *Error {
	e := &Error{File: l.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
	l.errs = append(l.errs, e)
	if l.bad == nil {
		l.bad = map[lineKey]bool{}
	}
	l.bad[lineKey{line, key}] = true
	return e
}

// err returns nil, or every error sorted by line (then key, then message)
// joined with errors.Join.
func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(l.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Msg, b.Msg))
	})
	// A [DEFAULT] line can be wrong for several sessions: report it once.
	l.errs = slices.CompactFunc(l.errs, func(a, b *Error) bool {
		return a.Line == b.Line && a.Key == b.Key && a.Msg == b.Msg
	})
	es := make([]error, len(l.errs))
	for i, e := range l.errs {
		es[i] = e
	}
	return errors.Join(es...)
}

// Errors returns the *Error values in err (one, or a join of them), in
// order. It returns nil if err holds none.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}
