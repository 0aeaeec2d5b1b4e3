package seal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/fixtap/fixtap/internal/chain"
)

// TSA is one RFC 3161 time-stamping authority.
type TSA struct {
	URL   string
	Roots *x509.CertPool // its trust roots; a token must chain to one
}

// AnchorConfig configures an Anchorer.
type AnchorConfig struct {
	TSAs []TSA
	// Every is the anchoring cadence, an upper bound by tier
	// (docs/vcp-profile.md §3: PLATINUM 10 min, GOLD 1 h, SILVER 24 h).
	Every time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff (with
	// jitter) between retries to a failing TSA.
	MinBackoff, MaxBackoff time.Duration
	// Window is how far a token's genTime may lie from Now at verification.
	Window time.Duration
	// Now is fixtap's clock (internal/clock); seal never reads wall time.
	Now func() time.Time
	// Client is the HTTP client; nil means one with a 30s timeout.
	Client *http.Client
	// PolicyID goes into every AnchorRecord.
	PolicyID string
	// Signer signs each AnchorRecord's root (Ed25519 over the raw 32 bytes
	// of MerkleRoot): the tap's event-signing key.
	Signer *chain.Signer
	// OnAnchor is called after an anchor is stored (the tap appends an AUD
	// event recording it, so the next checkpoint seals the anchor).
	OnAnchor func(*AnchorRecord)
	// OnFailure is called once per failure episode of a TSA (not per
	// retry), with the first error (the tap appends an ERR event).
	OnFailure func(url string, err error)
	// Latest, if set, supplies the checkpoint to anchor instead of the
	// sealer's newest: with witnessing configured it returns the newest
	// checkpoint the witness policy has cosigned, its Note the cosigned
	// note, so the token's imprint covers the cosignatures too
	// (docs/vcp-profile.md §9m). It returns ErrNoCheckpoint while there is
	// none.
	Latest func() (*Checkpoint, error)
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c *AnchorConfig) Validate() error {
	var errs []error
	if len(c.TSAs) == 0 {
		errs = append(errs, errors.New("no TSAs"))
	}
	for i, t := range c.TSAs {
		if !strings.HasPrefix(t.URL, "http://") && !strings.HasPrefix(t.URL, "https://") {
			errs = append(errs, fmt.Errorf("TSAs[%d].URL %q: want http(s)", i, t.URL))
		}
		if t.Roots == nil {
			errs = append(errs, fmt.Errorf("TSAs[%d] %s: no trust roots", i, t.URL))
		}
	}
	if c.Every <= 0 || c.Every > 24*time.Hour {
		errs = append(errs, fmt.Errorf("Every %v: want 0 < every ≤ 24h", c.Every))
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("backoff [%v, %v]: want 0 < min ≤ max", c.MinBackoff, c.MaxBackoff))
	}
	if c.Window <= 0 {
		errs = append(errs, fmt.Errorf("Window %v: want > 0", c.Window))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("Now is nil"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("Signer is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("seal: anchor config: %w", err)
	}
	return nil
}

// AnchorRecord is the VCP AnchorRecord of one anchored checkpoint
// (docs/vcp-profile.md §3), stored under 'a' + tree size(8) + TSA id(8)
// (TSA id = the first 8 bytes of SHA-256 of its URL) as version byte 1 ‖
// this JSON. The anchored checkpoint covers the whole log so far, so
// EventCount = TreeSize and First/LastEventID are those of seqs 0 and
// TreeSize−1.
type AnchorRecord struct {
	MerkleRoot   string       `json:"MerkleRoot"` // hex
	TreeSize     uint64       `json:"TreeSize"`
	Signature    string       `json:"Signature"` // Ed25519 over the raw root, base64
	SignAlgo     string       `json:"SignAlgo"`
	KeyID        string       `json:"KeyID"`
	Timestamp    string       `json:"Timestamp"` // genTime, RFC 3339 nano, UTC
	AnchorTarget AnchorTarget `json:"AnchorTarget"`
	EventCount   uint64       `json:"EventCount"`
	FirstEventID string       `json:"FirstEventID"`
	LastEventID  string       `json:"LastEventID"`
	PolicyID     string       `json:"PolicyID,omitempty"`
	// Checkpoint is the signed note the token covers (SHA-256 of these
	// exact bytes is the token's message imprint).
	Checkpoint []byte `json:"Checkpoint"`
}

// AnchorTarget names the TSA and carries its token.
type AnchorTarget struct {
	Type       string `json:"Type"`       // "TSA"
	Identifier string `json:"Identifier"` // the TSA URL
	Proof      string `json:"Proof"`      // base64 DER TimeStampToken
}

const anchorRecordVersion = 1

func anchorKey(size uint64, url string) []byte {
	k := binary.BigEndian.AppendUint64([]byte{chain.PrefixAnchor}, size)
	h := sha256.Sum256([]byte(url))
	return append(k, h[:8]...)
}

// decodeAnchorRecord decodes a stored anchor record strictly: version,
// known fields only, nothing after the JSON value.
func decodeAnchorRecord(b []byte) (*AnchorRecord, error) {
	if len(b) < 1 || len(b) > 1<<20 {
		return nil, fmt.Errorf("seal: anchor record: %w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] != anchorRecordVersion {
		return nil, fmt.Errorf("seal: anchor record: %w: version %d", ErrMalformed, b[0])
	}
	dec := json.NewDecoder(strings.NewReader(string(b[1:])))
	dec.DisallowUnknownFields()
	var r AnchorRecord
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("seal: anchor record: %w: %w", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("seal: anchor record: %w: trailing data", ErrMalformed)
	}
	if r.AnchorTarget.Type != "TSA" || r.TreeSize == 0 || len(r.MerkleRoot) != 64 {
		return nil, fmt.Errorf("seal: anchor record: %w: incomplete", ErrMalformed)
	}
	return &r, nil
}

// An Anchorer time-stamps the newest checkpoint at each TSA, independently,
// at the configured cadence, retrying failures with backoff; a success
// anchors the newest checkpoint, which covers all before it.
//
// Lifecycle: NewAnchorer starts one goroutine per TSA; Shutdown stops them
// (an HTTP request in flight is cancelled). Shut the Anchorer down before
// the Sealer.
type Anchorer struct {
	s      *Sealer
	cfg    AnchorConfig
	cancel context.CancelFunc
	wg     sync.WaitGroup
	logger *slog.Logger
}

// NewAnchorer starts anchoring the checkpoints of s.
func NewAnchorer(ctx context.Context, s *Sealer, cfg AnchorConfig) (*Anchorer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if s.readOnly {
		return nil, fmt.Errorf("seal: anchorer: %w", ErrReadOnly)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Latest == nil {
		cfg.Latest = s.Latest
	}
	a := &Anchorer{s: s, cfg: cfg, logger: cfg.Logger}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	ctx, a.cancel = context.WithCancel(ctx)
	for _, t := range cfg.TSAs {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.run(ctx, t)
		}()
	}
	return a, nil
}

// Shutdown stops the Anchorer and waits for its goroutines.
func (a *Anchorer) Shutdown(ctx context.Context) error {
	a.cancel()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("seal: anchorer shutdown: %w", ctx.Err())
	}
}

func (a *Anchorer) run(ctx context.Context, t TSA) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var anchored uint64
	var backoff time.Duration
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		c, err := a.cfg.Latest()
		if err == nil && c.Size != anchored && a.stored(c.Size, t.URL) {
			anchored = c.Size // anchored before a restart: keep that token
		}
		if err != nil || c.Size == anchored {
			timer.Reset(a.cfg.Every)
			continue
		}
		rec, err := a.anchor(ctx, t, c)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !failing {
				failing = true
				a.logger.Warn("seal: anchoring failed", "tsa", t.URL, "size", c.Size, "err", err)
				if a.cfg.OnFailure != nil {
					a.cfg.OnFailure(t.URL, err)
				}
			}
			backoff = min(max(2*backoff, a.cfg.MinBackoff), a.cfg.MaxBackoff)
			// Full jitter over the upper half: retries of several taps
			// do not synchronize.
			timer.Reset(backoff/2 + mrand.N(backoff/2+1))
			continue
		}
		failing, backoff, anchored = false, 0, c.Size
		if a.cfg.OnAnchor != nil {
			a.cfg.OnAnchor(rec)
		}
		timer.Reset(a.cfg.Every)
	}
}

// anchor requests, fully verifies and stores one token for c at t.
func (a *Anchorer) anchor(ctx context.Context, t TSA, c *Checkpoint) (*AnchorRecord, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	nonce.Add(nonce, big.NewInt(1))
	req, err := TimestampRequest(c.Note, nonce)
	if err != nil {
		return nil, err
	}
	resp, err := RequestTimestamp(ctx, a.cfg.Client, t.URL, req)
	if err != nil {
		return nil, err
	}
	now := a.cfg.Now()
	ts, err := VerifyTimestampResponse(resp, c.Note, nonce, &TokenPolicy{
		Roots: t.Roots, NotBefore: now.Add(-a.cfg.Window), NotAfter: now.Add(a.cfg.Window),
	})
	if err != nil {
		return nil, fmt.Errorf("seal: tsa %s: %w", t.URL, err)
	}
	first, err := a.eventID(0)
	if err != nil {
		return nil, err
	}
	last, err := a.eventID(c.Size - 1)
	if err != nil {
		return nil, err
	}
	sig := a.cfg.Signer.Sign(chain.Hash(c.Root))
	rec := &AnchorRecord{
		MerkleRoot: hex.EncodeToString(c.Root[:]),
		TreeSize:   c.Size,
		Signature:  base64.StdEncoding.EncodeToString(sig),
		SignAlgo:   chain.SignAlgoEd25519,
		KeyID:      a.cfg.Signer.KeyID().String(),
		Timestamp:  ts.Time.UTC().Format(time.RFC3339Nano),
		AnchorTarget: AnchorTarget{
			Type: "TSA", Identifier: t.URL, Proof: base64.StdEncoding.EncodeToString(ts.RawToken),
		},
		EventCount:   c.Size,
		FirstEventID: first,
		LastEventID:  last,
		PolicyID:     a.cfg.PolicyID,
		Checkpoint:   c.Note,
	}
	js, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("seal: anchor record: %w", err)
	}
	if err := a.s.db.Set(anchorKey(c.Size, t.URL), append([]byte{anchorRecordVersion}, js...), pebble.Sync); err != nil {
		return nil, fmt.Errorf("seal: store anchor %d: %w", c.Size, err)
	}
	return rec, nil
}

// stored reports whether an anchor of checkpoint size by url is stored.
func (a *Anchorer) stored(size uint64, url string) bool {
	_, closer, err := a.s.db.Get(anchorKey(size, url))
	if err != nil {
		return false
	}
	closer.Close()
	return true
}

// eventID reads the Header.EventID of event seq.
func (a *Anchorer) eventID(seq uint64) (string, error) {
	r, err := a.s.log.Get(seq)
	if err != nil {
		return "", fmt.Errorf("seal: anchor: read event %d: %w", seq, err)
	}
	var h struct{ EventID string }
	if err := json.Unmarshal(r.Header, &h); err != nil {
		return "", fmt.Errorf("seal: anchor: event %d header: %w", seq, err)
	}
	return h.EventID, nil
}

// Anchor returns the stored anchor of checkpoint size by the TSA at url.
func (s *Sealer) Anchor(size uint64, url string) (*AnchorRecord, error) {
	v, closer, err := s.db.Get(anchorKey(size, url))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("seal: no anchor of %d by %s: %w", size, url, err)
	}
	if err != nil {
		return nil, fmt.Errorf("seal: read anchor %d: %w", size, err)
	}
	defer closer.Close()
	return decodeAnchorRecord(v)
}
