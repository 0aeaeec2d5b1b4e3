package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/loadgen"
)

// runLoadgen is `fixtap loadgen`: a drop-copy sender for trials and
// benchmarks (internal/loadgen).
func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := loadgen.Config{Now: clock.Wall}
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:9878", "the tap's acceptor `host:port`")
	fs.StringVar(&c.BeginString, "begin", "FIX.4.4", "BeginString (FIX.4.2, FIX.4.4 or FIXT.1.1)")
	fs.StringVar(&c.SenderCompID, "sender", "BROKER", "our SenderCompID (the tap's TargetCompID)")
	fs.StringVar(&c.TargetCompID, "target", "TAP", "our TargetCompID (the tap's SenderCompID)")
	fs.IntVar(&c.Count, "count", 10000, "application messages to send")
	fs.IntVar(&c.Rate, "rate", 0, "messages per second (0 = as fast as possible)")
	fs.IntVar(&c.DisconnectAfter, "disconnect-after", 0, "drop the connection (no Logout) after this many messages, then reconnect")
	fs.IntVar(&c.Offline, "offline", 0, "messages sent into the gap while disconnected (resent on the tap's ResendRequest)")
	fs.DurationVar(&c.ReconnectDelay, "reconnect-delay", time.Second, "pause before reconnecting")
	fs.BoolVar(&c.ResetSeqNum, "reset", false, "start at MsgSeqNum 1 with ResetSeqNumFlag=Y on the first Logon")
	fs.IntVar(&c.StartSeq, "start-seq", 1, "first MsgSeqNum without -reset")
	seed := fs.Uint64("seed", 1, "random seed of the message mix")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{"loadgen takes no arguments"}
	}
	c.Seed = *seed
	st, err := loadgen.Run(ctx, c)
	fmt.Fprintf(stdout, "sent %d, resent %d, gap-filled %d over %d connections in %v (%.0f msgs/s); next MsgSeqNum %d\n",
		st.Sent, st.Resent, st.GapFilled, st.Connections, st.Elapsed.Round(time.Millisecond),
		float64(st.Sent)/max(st.Elapsed.Seconds(), 1e-9), st.NextSeq)
	return err
}
