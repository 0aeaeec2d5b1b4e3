// Package tapconfig reads fixtap's session file: QuickFIX format, a
// [DEFAULT] section then [SESSION] sections of Key=Value lines, with the
// tap's own keys (DataDir, SigningKeyFile, Durability, Tier, TSAURL1…,
// ClockSources, MetricsAddress, AccountSecretFile, …) beside the QuickFIX
// ones.
//
// The parser is its own, and strict, because quickfixgo's ParseSettings
// lets a duplicated key overwrite the first, takes any key, and (v0.9.11)
// ignores ConnectionType. Parse refuses unknown keys (suggesting the
// nearest valid one), duplicated keys, keys outside a section, malformed
// lines, trailing comments, bad values, missing required keys, missing or
// over-permissive key and secret files, duplicated sessions and port
// clashes (see ports.go for what counts as one), reporting every problem
// as an *Error naming file, line and key.
//
// Comments are lines starting with '#' or ';'. Keys and values have
// surrounding white space trimmed; keys are case-sensitive; section names
// are not.
//
// File.QuickfixSettings renders the sessions of one ConnectionType for
// quickfixgo, without the tap's keys and with the tap's safe defaults.
package tapconfig
