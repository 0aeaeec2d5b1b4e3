package loadgen

import (
	"math/rand/v2"
	"strconv"
)

// Generator produces the application messages of a plausible trading day:
// orders acknowledged, partially and fully filled, canceled, replaced
// (OrigClOrdID chains), rejected, trade busts referring to earlier fills,
// and order copies (NewOrderSingle). Quantities and prices are integers and
// fixed-point strings, never floats. Deterministic for a seed.
type Generator struct {
	// Prefix starts every OrderID, ClOrdID and ExecID, so two runs into
	// one session on one day do not reuse identifiers (FIX wants ClOrdIDs
	// unique per session and day).
	Prefix string
	rng    *rand.Rand
	next   int
	live   []*order
	execs  int
	fills  []string // ExecIDs of fills, for busts
}

type order struct {
	orderID, clOrd string
	sym, side      string
	qty, cum       int
	pxTicks        int
	acct           string
}

var symbols = []string{"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM"}

func (g *Generator) withPrefix(p string) *Generator { g.Prefix = p; return g }

// NewGenerator makes a generator.
func NewGenerator(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Next returns the body (tags after the standard header) of the next
// application message.
func (g *Generator) Next() []byte {
	r := g.rng.IntN(100)
	switch {
	case len(g.live) < 8 || r < 12:
		return g.ack(g.newOrder())
	case r < 20:
		return g.orderCopy(g.newOrder())
	case r < 62:
		return g.fill(g.pick())
	case r < 70:
		return g.cancel(g.pick())
	case r < 78:
		return g.replace(g.pick())
	case r < 84:
		o := g.newOrder()
		g.remove(o)
		return g.er(o, "8", "8", 0, 0, "")
	case r < 87 && len(g.fills) > 0:
		ref := g.fills[g.rng.IntN(len(g.fills))]
		o := g.pick()
		b := g.er(o, "H", "1", 0, 0, "")
		return append(b, "19="+ref+"\x01"...)
	default:
		return g.fill(g.pick())
	}
}

func (g *Generator) newOrder() *order {
	g.next++
	o := &order{
		orderID: g.Prefix + "O" + strconv.Itoa(g.next),
		clOrd:   g.Prefix + "C" + strconv.Itoa(g.next),
		sym:     symbols[g.rng.IntN(len(symbols))],
		side:    strconv.Itoa(1 + g.rng.IntN(2)),
		qty:     100 * (1 + g.rng.IntN(20)),
		pxTicks: 1000000 + g.rng.IntN(500000),
		acct:    "ACCT-" + strconv.Itoa(g.rng.IntN(40)),
	}
	g.live = append(g.live, o)
	return o
}

func (g *Generator) pick() *order { return g.live[g.rng.IntN(len(g.live))] }

func (g *Generator) remove(o *order) {
	for i, x := range g.live {
		if x == o {
			g.live[i] = g.live[len(g.live)-1]
			g.live = g.live[:len(g.live)-1]
			return
		}
	}
}

// px renders ticks of 1/10000 as a fixed-point decimal string.
func px(ticks int) string {
	s := strconv.Itoa(ticks)
	for len(s) < 5 {
		s = "0" + s
	}
	return s[:len(s)-4] + "." + s[len(s)-4:]
}

func (g *Generator) er(o *order, execType, ordStatus string, lastQty, lastTicks int, extra string) []byte {
	g.execs++
	b := make([]byte, 0, 256)
	add := func(tag int, v string) {
		b = strconv.AppendInt(b, int64(tag), 10)
		b = append(b, '=')
		b = append(b, v...)
		b = append(b, 1)
	}
	add(37, o.orderID)
	add(11, o.clOrd)
	add(17, g.Prefix+"X"+strconv.Itoa(g.execs))
	add(150, execType)
	add(39, ordStatus)
	add(1, o.acct)
	add(55, o.sym)
	add(54, o.side)
	add(38, strconv.Itoa(o.qty))
	add(40, "2")
	add(44, px(o.pxTicks))
	if lastQty > 0 {
		add(32, strconv.Itoa(lastQty))
		add(31, px(lastTicks))
	}
	add(14, strconv.Itoa(o.cum))
	leaves := o.qty - o.cum
	if execType == "4" || execType == "8" {
		leaves = 0
	}
	add(151, strconv.Itoa(leaves))
	add(6, px(o.pxTicks))
	add(60, "20261121-14:30:00.000")
	return append(b, extra...)
}

func (g *Generator) ack(o *order) []byte { return g.er(o, "0", "0", 0, 0, "") }

func (g *Generator) orderCopy(o *order) []byte {
	return []byte("11=" + o.clOrd + "\x011=" + o.acct + "\x0155=" + o.sym + "\x0154=" + o.side +
		"\x0138=" + strconv.Itoa(o.qty) + "\x0140=2\x0144=" + px(o.pxTicks) + "\x0160=20261121-14:30:00.000\x01")
}

func (g *Generator) fill(o *order) []byte {
	q := min(o.qty-o.cum, 100*(1+g.rng.IntN(5)))
	o.cum += q
	ticks := o.pxTicks - g.rng.IntN(50)
	status := "1"
	if o.cum == o.qty {
		status = "2"
		g.remove(o)
	}
	b := g.er(o, "F", status, q, ticks, "")
	g.fills = append(g.fills, g.Prefix+"X"+strconv.Itoa(g.execs))
	if len(g.fills) > 1024 {
		g.fills = g.fills[512:]
	}
	return b
}

func (g *Generator) cancel(o *order) []byte {
	g.remove(o)
	return g.er(o, "4", "4", 0, 0, "")
}

func (g *Generator) replace(o *order) []byte {
	orig := o.clOrd
	g.next++
	o.clOrd = g.Prefix + "C" + strconv.Itoa(g.next)
	o.qty += 100
	return g.er(o, "5", "5", 0, 0, "41="+orig+"\x01")
}
