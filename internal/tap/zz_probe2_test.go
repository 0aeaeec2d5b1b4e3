package tap

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"

	"github.com/fixtap/fixtap/internal/loadgen"
)

type probeApp struct {
	start time.Time
	ev    []string
}

func (a *probeApp) note(s string)                    { a.ev = append(a.ev, s+"@"+time.Since(a.start).String()) }
func (a *probeApp) OnCreate(quickfix.SessionID)      {}
func (a *probeApp) OnLogon(quickfix.SessionID)       { a.note("logon") }
func (a *probeApp) OnLogout(quickfix.SessionID)      { a.note("logout") }
func (a *probeApp) ToAdmin(m *quickfix.Message, _ quickfix.SessionID) {
	mt, _ := m.MsgType()
	a.note("toadmin" + mt)
}
func (a *probeApp) ToApp(*quickfix.Message, quickfix.SessionID) error { return nil }
func (a *probeApp) FromAdmin(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	mt, _ := m.MsgType()
	a.note("fromadmin" + mt)
	return nil
}
func (a *probeApp) FromApp(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	s, _ := m.Header.GetInt(34)
	if s == 2 || s == 1001 {
		a.note("app")
	}
	return nil
}

func quickfixNewAcceptorProbe(app *probeApp, port int) (*quickfix.Acceptor, error) {
	_ = strings.NewReader
	acc, err := quickfix.NewAcceptor(app, quickfix.NewMemoryStoreFactory(), acceptorSettings(&testing.T{}, port, 1), quickfix.NewNullLogFactory())
	if err != nil {
		return nil, err
	}
	return acc, acc.Start()
}

func loadgenRun(cfg loadgen.Config) (loadgen.Stats, error) { return loadgen.Run(context.Background(), cfg) }
