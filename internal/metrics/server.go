package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fixtap/fixtap/internal/chain"
	"github.com/fixtap/fixtap/internal/clock"
	"github.com/fixtap/fixtap/internal/replica"
	"github.com/fixtap/fixtap/internal/tap"
	"github.com/fixtap/fixtap/internal/witness"
)

// Config says what the endpoint reads. Any source may be nil (its metrics
// are then absent), which tests use.
type Config struct {
	Tap   *tap.Tap
	Log   *chain.Log
	Clock *clock.Clock
	Seal  *SealState
	// XRef is the VCP-XREF reconciler (*xref.Reconciler), nil when the
	// tap has no reconciliation group.
	XRef Reconciler
	// Replicator and Cosigner are nil unless the tap replicates
	// (Replica1…) and has witnesses (WitnessPolicyFile); both are read at
	// scrape time.
	Replicator *replica.Replicator
	Cosigner   *witness.Cosigner
	// Now is the wall clock for ages: clock.Wall.
	Now    func() time.Time
	Logger *slog.Logger
}

// Reconciler is what the endpoint reads of the VCP-XREF reconciler
// (internal/xref.Reconciler): atomics, read at scrape time.
type Reconciler interface {
	// Watermark: every log record below it is reconciled.
	Watermark() uint64
	// Totals: outcomes appended since the process started.
	Totals() (matched, discrepancy, timeout uint64)
}

// Server is the monitoring endpoint. Lifecycle: New; Listen (binds at
// once, serves on its own goroutine); SetReady(true) once the sessions are
// up and SetReady(false) as shutdown begins; Shutdown last, after the log
// is closed, so that the final numbers can still be scraped until then.
type Server struct {
	cfg   Config
	reg   *prometheus.Registry
	mux   *http.ServeMux
	ready atomic.Bool

	srv      *http.Server
	ln       net.Listener
	served   chan error
	stopOnce sync.Once
	stopErr  error
}

// New makes the endpoint and its registry.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = clock.Wall
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, reg: prometheus.NewRegistry(), mux: http.NewServeMux()}
	s.reg.MustRegister(collector{s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError), Timeout: 10 * time.Second}))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /{$}", s.page)
	return s
}

// Handler serves /metrics, /healthz, /readyz and the status page at /.
func (s *Server) Handler() http.Handler { return s.mux }

// Registry is the Server's own Prometheus registry.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// SetReady says whether the tap is serving: /readyz answers 200 only while
// it is set and the log, the clock and the sessions are fine.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Listen binds addr (host:port) and serves on its own goroutine until
// Shutdown.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn)}
	s.served = make(chan error, 1)
	go func() { s.served <- s.srv.Serve(ln) }()
	return nil
}

// Addr is the address Listen bound (with the port chosen for :0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops the listener and waits for requests in flight (until ctx
// ends, then closes them). A Server that never listened returns nil.
// Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	if s.srv == nil {
		return nil
	}
	s.stopOnce.Do(func() {
		err := s.srv.Shutdown(ctx)
		if err != nil {
			s.srv.Close()
		}
		if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		s.stopErr = err
	})
	return s.stopErr
}

// healthz: the process is alive and its log has not stopped.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if l := s.cfg.Log; l != nil {
		if err := l.Err(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "log stopped: %v\n", err)
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

// readyz: serving — the sessions started, the log open and running, the
// clock poller publishing fresh measurements — and not shutting down.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if why := s.notReady(s.read()); why != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, why)
		return
	}
	fmt.Fprintln(w, "ready")
}

// notReady says why st is not ready, or "".
func (s *Server) notReady(st *Status) string {
	switch {
	case !st.Ready:
		return "not ready: starting or shutting down"
	case st.LogErr != nil:
		return fmt.Sprintf("not ready: log stopped: %v", st.LogErr)
	case s.cfg.Clock != nil && !st.ClockFresh:
		return fmt.Sprintf("not ready: the clock's newest measurement is %v old: its poller is stuck or stopped", st.ClockAge.Round(time.Millisecond))
	}
	return ""
}
