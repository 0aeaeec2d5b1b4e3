package fixmap

import (
	"testing"

	"github.com/fixtap/fixtap/internal/chain"
)

func TestMapTable(t *testing.T) {
	cfg := testConfig()
	for _, c := range mapCases {
		t.Run(c.name, func(t *testing.T) {
			raw := buildFIX(c.begin, c.fields...)
			got, err := cfg.Map(mustParse(t, raw), raw, testSession)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != c.want {
				t.Fatalf("Type = %s, want %s (%+v)", got.Type, c.want, got.Payload.ErrorDetails)
			}
			tr := got.Payload.Trade
			if c.stage != "" || c.bust || c.corr {
				if tr == nil {
					t.Fatal("no VCP-TRADE block")
				}
				if tr.Stage != c.stage || tr.TradeBust != c.bust || tr.TradeCorrection != c.corr {
					t.Fatalf("Stage %q TradeBust %t TradeCorrection %t, want %q %t %t", tr.Stage, tr.TradeBust, tr.TradeCorrection, c.stage, c.bust, c.corr)
				}
			}
			if (got.Type == chain.ERR) != (got.Payload.ErrorDetails != nil) {
				t.Fatalf("ERR type and ErrorDetails disagree: %+v", got.Payload.ErrorDetails)
			}
			if c.code != "" && got.Payload.ErrorDetails.ErrorCode != c.code {
				t.Fatalf("ErrorCode %s, want %s", got.Payload.ErrorDetails.ErrorCode, c.code)
			}
			if got.Payload.FIX == nil || got.Payload.FIX.RawSHA256 == "" || got.Payload.FIX.SessionID != testSession {
				t.Fatalf("FIX block: %+v", got.Payload.FIX)
			}
			if _, err := chain.AppendCanonical(nil, got.Payload); err != nil {
				t.Fatal(err)
			}
		})
	}
}
