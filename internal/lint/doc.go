// Package lint holds no code: its test enforces fixtap's house rules over
// every non-test Go file of the module, so a rule cannot be forgotten in
// review. Run it with `go test ./internal/lint`; scripts/test.sh runs it with
// everything else.
//
// The rules, each a subtest of TestLint:
//
//   - WallClock: time.Now, time.Since and time.Until appear only in
//     internal/clock, the one place that reads wall time. Everything else
//     gets the time, and the measured state of the clock, from there.
//   - Exit: os.Exit and log.Fatal*/log.Panic* appear only under cmd/.
//     Library code returns errors; main decides how the process ends.
//   - NoFloat: internal/fixmap and internal/chain never hold a number as a
//     float (prices and quantities are copied verbatim as strings): no
//     float32/float64, no fractional float literal, no strconv or math/big
//     float conversions. internal/jcs is exempt; formatting numbers is what
//     RFC 8785 asks of it.
//
// The checks are syntactic (go/ast, no type checking), so they see calls
// through the package name, including an import alias, and refuse dot
// imports of the packages they watch, which would hide such calls.
package lint
