package tap

import (
	"fmt"
	"testing"
	"time"
)

func TestProbeStartup(t *testing.T) {
	b := &testing.B{}
	_ = b
	app := &probeApp{start: time.Now()}
	port := benchPort(t)
	acc, err := quickfixNewAcceptorProbe(app, port)
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Stop()
	app.start = time.Now()
	cfg := loadgenConfig(fmt.Sprintf("127.0.0.1:%d", port), 1, 1000, 0, func() time.Time { return time.Now() })
	st, err := loadgenRun(cfg)
	t.Logf("run %v %+v err %v; events %v", time.Since(app.start), st, err, app.ev)
}
