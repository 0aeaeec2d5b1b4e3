package chain_test

import (
	"fmt"

	"github.com/fixtap/fixtap/internal/chain"
)

// The profile's EventHash of the genesis vector EV-1: canonical Header and
// Payload, nothing appended for seq 0.
func ExampleEventHash() {
	h := chain.Header{
		EventID:            "01934e3a-7b2c-7f93-8f2a-1234567890ab",
		TraceID:            "01934e3a-6a1b-7c82-9d1b-0987654321dc",
		TimestampInt:       "1732358400000000000",
		TimestampISO:       "2024-11-23T10:40:00.000000000Z",
		EventType:          chain.ORD,
		EventTypeCode:      2,
		TimestampPrecision: chain.PrecisionNanosecond,
		ClockSyncStatus:    chain.PTPLocked,
		HashAlgo:           chain.HashAlgoSHA256,
		VenueID:            "XNAS",
		Symbol:             "AAPL",
		AccountID:          "acc_h7g8i9j0k1",
	}
	p := chain.Payload{Trade: &chain.Trade{
		OrderID: "ORD-2025-001234", Side: "BUY", OrderType: "LIMIT",
		Price: "123.456789", Quantity: "1000.00", Currency: "USD",
	}}
	hdr, _ := chain.AppendCanonical(nil, &h)
	pay, _ := chain.AppendCanonical(nil, &p)
	fmt.Println(string(pay))
	fmt.Println(chain.EventHash(hdr, pay, chain.Hash{}, true))
	// Output:
	// {"VCP-TRADE":{"Currency":"USD","OrderID":"ORD-2025-001234","OrderType":"LIMIT","Price":"123.456789","Quantity":"1000.00","Side":"BUY"}}
	// 50459ec9310f2544565c7ca65847393ea93fc1aa0ecd1c0c1a167a4eba548635
}
