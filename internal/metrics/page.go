package metrics

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"time"
)

// The status page: read-only, no script, no form; it refreshes itself
// every 10 s with a meta tag.
var pageTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"age": func(d time.Duration) string { return d.Round(time.Second).String() },
	"ms":  func(d time.Duration) string { return d.Round(time.Microsecond).String() },
	"utc": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"tsa": redactURL,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>fixtap status</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}th{background:#eee}td.l,th.l{text-align:left}.bad{color:#b00;font-weight:bold}</style>
</head><body>
<h1>fixtap</h1>
<p>{{utc .Taken}} — {{if .Why}}<span class="bad">{{.Why}}</span>{{else}}ready{{end}}.
Read-only; the numbers are those of <a href="/metrics">/metrics</a>.</p>
<h2>Sessions</h2>
<table><tr><th class="l">Session</th><th>Logged on</th><th>Last MsgSeqNum in</th><th>Last out</th><th>Messages</th><th>Resends</th><th>Gaps</th><th>Rejects</th></tr>
{{range .Sessions}}<tr><td class="l">{{.Name}}</td><td>{{if .LoggedOn}}yes{{else}}<span class="bad">no</span>{{end}}</td><td>{{.LastMsgSeqNumIn}}</td><td>{{.LastMsgSeqNumOut}}</td><td>{{.Messages}}</td><td>{{.Resends}}</td><td>{{.Gaps}}</td><td>{{.Rejects}}</td></tr>
{{else}}<tr><td class="l" colspan="8">no session has connected yet</td></tr>
{{end}}</table>
<h2>Log</h2>
<table><tr><th class="l">Appended</th><td>{{.Appended}}</td></tr>
<tr><th class="l">Durable</th><td>{{.Durable}}</td></tr>
<tr><th class="l">Signed</th><td>{{.Signed}}</td></tr>
<tr><th class="l">Group commits</th><td>{{.CommitLatency.Count}}{{if .MeanCommit}}, mean {{ms .MeanCommit}}{{end}}</td></tr>
<tr><th class="l">Write stalls</th><td>{{.WriteStalls}}</td></tr>
{{if .LogErr}}<tr><th class="l">Stopped</th><td class="bad">{{.LogErr}}</td></tr>{{end}}</table>
<h2>Clock</h2>
<table><tr><th class="l">Status</th><td>{{.ClockStatus}}</td></tr>
<tr><th class="l">Source</th><td>{{.ClockSource}}</td></tr>
<tr><th class="l">Max error</th><td>{{if ge .ClockMaxError 0}}{{ms .ClockMaxError}}{{else}}unknown{{end}}</td></tr>
<tr><th class="l">Measured</th><td>{{ms .ClockAge}} ago</td></tr>
<tr><th class="l">Why</th><td class="l">{{.ClockReason}}</td></tr></table>
<h2>Seal</h2>
<table><tr><th class="l">Tree size</th><td>{{.TreeSize}}</td></tr>
<tr><th class="l">Newest checkpoint</th><td>{{if .HasCheckpoint}}size {{.CheckpointSize}}, {{age .CheckpointAge}} ago{{else}}none yet{{end}}</td></tr>
{{range .Anchors}}<tr><th class="l">Anchor {{tsa .URL}}</th><td>{{if .Anchored}}{{age .Age}} ago{{else}}none yet{{end}}{{if .Failing}} <span class="bad">failing</span>{{end}}; {{.Failures}} failure episodes</td></tr>
{{else}}<tr><th class="l">Anchors</th><td>no TSA configured</td></tr>
{{end}}</table>
</body></html>
`))

type pageData struct {
	*Status
	Why        string
	MeanCommit time.Duration
}

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	st := s.read()
	d := pageData{Status: st, Why: s.notReady(st)}
	if n := st.CommitLatency.Count; n > 0 {
		d.MeanCommit = st.CommitLatency.Sum / time.Duration(n)
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, d); err != nil {
		s.cfg.Logger.Error("metrics: status page", "err", err)
		http.Error(w, "status page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// redactURL hides a password in a TSA URL (metric labels, the page).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}
