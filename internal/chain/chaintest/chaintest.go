// Package chaintest holds test fixtures for packages that build a
// chain.Log in their tests (seal, snapshot, replica, witness). It is
// imported by tests only.
package chaintest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
)

// Entry returns a small valid ORD event for index i: EventID, capture
// time and OrderID derive from i, so entries of different i differ.
func Entry(i int) *chain.Entry {
	ts := int64(1732358400000000000) + int64(i)*1000
	return &chain.Entry{
		Header: chain.Header{
			EventID:            fmt.Sprintf("01934e3a-7b2c-7f93-8f2a-%012x", i),
			TraceID:            "01934e3a-6a1b-7c82-9d1b-0987654321dc",
			TimestampInt:       strconv.FormatInt(ts, 10),
			TimestampISO:       time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05.000000000Z"),
			EventType:          chain.ORD,
			EventTypeCode:      2,
			TimestampPrecision: chain.PrecisionNanosecond,
			ClockSyncStatus:    chain.NTPSynced,
			HashAlgo:           chain.HashAlgoSHA256,
			VenueID:            "XNAS",
			Symbol:             "AAPL",
		},
		Payload: chain.Payload{Trade: &chain.Trade{
			OrderID: fmt.Sprintf("ORD-%08d", i), Side: "BUY", OrderType: "LIMIT",
			Price: "123.456789", Quantity: "1000.00", Currency: "USD",
		}},
	}
}
