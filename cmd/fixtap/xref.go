package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/tapconfig"
	"github.com/fixtap/fixtap/internal/xref"
)

// startXRef starts the reconciler (internal/xref) when the session file
// has reconciliation groups; it runs behind the log like the indexer, and
// outlives ctx until stop. stop catches up with the log (at most 5 s),
// saves the state and must run after the sessions stop, before the final
// checkpoint (which then covers the outcomes) and the log's close. A
// reconciler that cannot start is logged, not fatal: the tap records
// without it (r is nil), and the next start reconciles what it missed.
func startXRef(ctx context.Context, f *tapconfig.File, log *chain.Log, clk xref.Clock, policy chain.PolicyIdentification, logger *slog.Logger) (r *xref.Reconciler, stop func()) {
	if len(f.XRefGroups) == 0 {
		return nil, func() {}
	}
	c := xref.DefaultConfig()
	c.Clock, c.Policy, c.VenueID, c.Logger = clk, policy, f.Tap.VenueID, logger
	for _, g := range f.XRefGroups {
		xg := xref.Group{Name: g.Name, LocalRole: g.LocalRole, ExecKeys: g.ExecKeys, OrderKeys: g.OrderKeys,
			ToleranceMs: g.ToleranceMs, Deadline: g.Deadline}
		for _, id := range g.Local {
			xg.Local = append(xg.Local, id.String())
		}
		for _, id := range g.Counterparty {
			xg.Counterparty = append(xg.Counterparty, id.String())
		}
		c.Groups = append(c.Groups, xg)
	}
	r, err := xref.New(context.WithoutCancel(ctx), log, c)
	if err != nil {
		logger.Error("no reconciler: VCP-XREF outcomes are not written until the next start", "err", err)
		return nil, func() {}
	}
	return r, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Shutdown(sctx); err != nil {
			logger.Error("reconciler shutdown", "err", err)
		}
		m, d, t := r.Totals()
		logger.Info("reconciler stopped", "reconciled_to", r.Watermark(), "matched", m, "discrepancy", d, "timeout", t)
	}
}
