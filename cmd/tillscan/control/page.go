package control

import (
	"html/template"
	"net/http"
)

// pageTmpl is the status page for the shop owner: plain HTML that refreshes
// itself, readable on a phone, no scripts.
var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>tillscan {{.TillID}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:50em}
.ok{color:#186a1e}.bad{color:#b00020;font-weight:bold}
table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd}
</style></head><body>
<h1>tillscan — till {{.TillID}}</h1>
{{if .Problems}}<h2 class="bad">Needs attention</h2><ul>{{range .Problems}}<li class="bad">{{.}}</li>{{end}}</ul>
{{else if and .Accepting .API.Reachable (not .API.Paused)}}<p class="ok">All good: scans are saved and sent.</p>
{{else}}<p>Scans are saved; they are sent once the loyalty API answers (see below).</p>{{end}}
<h2>Loyalty API</h2>
<p>{{if .API.Paused}}<span class="bad">Sending paused: {{.API.PauseReason}}</span>
{{else if .API.Reachable}}<span class="ok">Reachable</span>{{else}}<span class="bad">Not reachable — scans are saved and will be sent when it is back</span>{{end}}
{{if not .API.LastSuccess.IsZero}} · last success {{.API.LastSuccess.Format "2006-01-02 15:04:05"}}{{end}}</p>
<p>{{.API.Pacing}}</p>
<h2>Queue</h2>
<table><tr><th>waiting</th><td>{{index .Queue.Depth "pending"}}</td></tr>
<tr><th>checking (uncertain sends)</th><td>{{index .Queue.Depth "ambiguous"}}</td></tr>
<tr><th>needs an operator</th><td>{{index .Queue.Depth "dead"}}</td></tr>
<tr><th>refused (kept for the report)</th><td>{{index .Queue.Depth "refused"}}</td></tr>
<tr><th>applied (kept for audit)</th><td>{{index .Queue.Depth "done"}}</td></tr>
<tr><th>oldest waiting</th><td>{{printf "%.0f" .Queue.OldestPendingAge}} s</td></tr></table>
<h2>Scanners</h2>
<table>{{range .Scanners}}<tr><td>{{.Name}}</td><td>{{.Type}}</td>
<td>{{if .Connected}}<span class="ok">connected</span>{{else}}<span class="bad">not connected {{.Error}}</span>{{end}}</td></tr>{{end}}</table>
<h2>Recent scans</h2>
<table>{{range .Recent}}<tr><td>{{.At.Format "15:04:05"}}</td><td>{{.Kind}}</td><td>{{.Message}}</td></tr>{{end}}</table>
<p><small>tillscan {{.Version}} · <a href="/display">counter display</a> (full screen, for a second screen facing the customer) · JSON at <a href="/api/v1/status">/api/v1/status</a> · metrics at <a href="/metrics">/metrics</a></small></p>
</body></html>
`))

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	st := s.b.Status(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTmpl.Execute(w, st); err != nil {
		s.log.Error().Err(err).Msg("render status page")
	}
}
