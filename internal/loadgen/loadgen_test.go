package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nullSink is a FIX acceptor that answers the Logon and the Logout and
// discards everything else: the sender's ceiling, with no tap behind it.
func nullSink(t testing.TB) (string, func() int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counts := make(chan int, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := bufio.NewReaderSize(c, 256<<10)
				w := bufio.NewWriter(c)
				seq, n := 1, 0
				reply := func(mt string) {
					writeFrame(w, "FIX.4.4", []byte("35="+mt+"\x0134="+strconv.Itoa(seq)+"\x0149=TAP\x0152=20261121-00:00:00.000\x0156=BROKER\x0198=0\x01108=30\x01"))
					seq++
					w.Flush()
				}
				// Parse only what the sink must answer; count the rest by
				// their trailers, as cheaply as a discard can be.
				if mt, _, err := readMsg(rd); err != nil || mt != "A" {
					counts <- 0
					return
				}
				reply("A")
				buf := make([]byte, 256<<10)
				var tail []byte
				for {
					k, err := rd.Read(buf)
					chunk := append(tail, buf[:k]...)
					n += bytes.Count(chunk, []byte("\x0110="))
					// Answer the sender's TestRequests (its barrier before Logout).
					for rest := chunk; ; {
						i := bytes.Index(rest, []byte("\x0135=1\x01"))
						if i < 0 {
							break
						}
						rest = rest[i+1:]
						j := bytes.Index(rest, []byte("\x01112="))
						if j < 0 {
							break
						}
						id := rest[j+5:]
						id = id[:bytes.IndexByte(id, 1)]
						n--
						writeFrame(w, "FIX.4.4", []byte("35=0\x0134="+strconv.Itoa(seq)+"\x0149=TAP\x0152=20261121-00:00:00.000\x0156=BROKER\x01112="+string(id)+"\x01"))
						seq++
						w.Flush()
					}
					if i := bytes.Index(chunk, []byte("\x0135=5\x01")); i >= 0 {
						n-- // the Logout is not an application message
						reply("5")
						counts <- n
						return
					}
					if len(chunk) > 16 {
						tail = append(tail[:0], chunk[len(chunk)-16:]...)
						n -= bytes.Count(tail, []byte("\x0110="))
					} else {
						tail = append(tail[:0], chunk...)
						n -= bytes.Count(tail, []byte("\x0110="))
					}
					if err != nil {
						counts <- n
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), func() int { return <-counts }
}

func cfg(addr string, n int) Config {
	return Config{Addr: addr, BeginString: "FIX.4.4", SenderCompID: "BROKER", TargetCompID: "TAP",
		Count: n, ResetSeqNum: true, Seed: 1, Now: time.Now}
}

func TestNullSink(t *testing.T) {
	addr, received := nullSink(t)
	st, err := Run(context.Background(), cfg(addr, 5000))
	if err != nil {
		t.Fatal(err)
	}
	if got := received(); got != 5000 || st.Sent != 5000 || st.NextSeq != 5004 {
		t.Fatalf("sink received %d, stats %+v", got, st)
	}
}

func TestGeneratorIsPlausible(t *testing.T) {
	g := NewGenerator(7)
	kinds := map[string]int{}
	for range 20000 {
		b := string(g.Next())
		switch {
		case strings.Contains(b, "\x01150=") || strings.HasPrefix(b, "37="):
			i := strings.Index(b, "150=")
			kinds["ER "+b[i+4:i+5]]++
		default:
			kinds["D"]++
		}
	}
	for _, k := range []string{"ER 0", "ER F", "ER 4", "ER 5", "ER 8", "ER H", "D"} {
		if kinds[k] < 100 {
			t.Errorf("%s appears %d times in 20000: %v", k, kinds[k], kinds)
		}
	}
}

// BenchmarkNullSink is the sender's ceiling: messages/s into a sink that
// discards them, on this machine.
func BenchmarkNullSink(b *testing.B) {
	addr, received := nullSink(b)
	b.ResetTimer()
	st, err := Run(context.Background(), cfg(addr, max(b.N, 1)))
	if err != nil {
		b.Fatal(err)
	}
	received()
	b.ReportMetric(float64(st.Sent)/st.Elapsed.Seconds(), "msgs/s")
}

// TestMessages: prepared messages go out in order with their MsgTypes,
// PossDup where asked, not before Start + At, and a ResendRequest gets
// them back under their MsgType (PossDup=Y, original MsgSeqNum).
func TestMessages(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type got struct {
		f  map[int]string
		at time.Time
	}
	recv := make(chan []got, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		rd, w := bufio.NewReader(c), bufio.NewWriter(c)
		seq := 1
		send := func(mt, body string) {
			writeFrame(w, "FIX.4.4", []byte("35="+mt+"\x0134="+strconv.Itoa(seq)+"\x0149=TAP\x0152=20261121-00:00:00.000\x0156=BROKER\x01"+body))
			seq++
			w.Flush()
		}
		var all []got
		asked := false
		for {
			mt, f, err := readMsg(rd)
			if err != nil {
				recv <- all
				return
			}
			switch mt {
			case "A":
				send("A", "98=0\x01108=30\x01")
			case "1":
				send("0", "112="+f[112]+"\x01")
			case "5":
				send("5", "")
				recv <- all
				return
			default:
				all = append(all, got{f, time.Now()})
				if f[34] == "4" && !asked {
					asked = true
					send("2", "7=2\x0116=3\x01") // ask for the 8 and the D again
				}
			}
		}
	}()
	msgs := []Message{
		{MsgType: "8", Body: []byte("37=O1\x0117=X1\x01150=0\x01")},
		{MsgType: "D", Body: []byte("11=C1\x0155=AAPL\x01")},
		{MsgType: "8", Body: []byte("37=O1\x0117=X1\x01150=0\x01"), PossDup: true},
		{MsgType: "B", Body: []byte("148=end\x01"), At: 300 * time.Millisecond},
	}
	start := time.Now()
	c := cfg(l.Addr().String(), 0)
	c.Messages, c.Start = msgs, start
	st, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	all := <-recv
	if st.Sent != 4 || st.Resent != 2 || len(all) != 6 {
		t.Fatalf("stats %+v, the sink got %d messages", st, len(all))
	}
	want := []struct{ mt, seq, possDup, body string }{
		{"8", "2", "", "X1"}, {"D", "3", "", "C1"}, {"8", "4", "Y", "X1"}, // sent
		{"8", "2", "Y", "X1"}, {"D", "3", "Y", "C1"}, // resent
		{"B", "5", "", "end"},
	}
	for i, w := range want {
		f := all[i].f
		body := f[17] + f[11] + f[148]
		if f[35] != w.mt || f[34] != w.seq || f[43] != w.possDup || body != w.body || (w.possDup == "Y") != (f[122] != "") {
			t.Errorf("message %d: 35=%s 34=%s 43=%q 122=%q body %q; want %+v", i, f[35], f[34], f[43], f[122], body, w)
		}
	}
	if d := all[5].at.Sub(start); d < 300*time.Millisecond {
		t.Errorf("the message due at +300ms arrived at +%v", d)
	}
	c.Messages = []Message{{MsgType: "0", Body: []byte("112=x\x01")}}
	if _, err := Run(context.Background(), c); err == nil {
		t.Error("a session-level MsgType was accepted as a prepared message")
	}
}
