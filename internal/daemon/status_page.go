package daemon

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/payrun/payrun/journal"
)

// pageStyle and pageScript are inline (no external assets) and allowed by
// their hashes in the page's Content-Security-Policy, so nothing else can
// run or style the page, whatever a file name contains.
const pageStyle = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2433;background:#f7f8fa}
h1{font-size:1.4rem;margin:0}header p{color:#5b6475;margin:.2rem 0 1rem}
.batch{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}
.batch h2{font-size:1.1rem;margin:0 0 .2rem;font-family:ui-monospace,monospace}
.meta{color:#5b6475;margin:0 0 .6rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;border-top:1px solid #eceff3;vertical-align:top}
th{font-weight:600;color:#5b6475}.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
progress{width:14rem;height:1rem}.state{font-size:.8rem;padding:.05rem .4rem;border-radius:3px;background:#e8ecf4}
.state-done{background:#d8f0de}.state-held{background:#fbe7c6}.chip{display:inline-block;margin-right:.5rem;white-space:nowrap}
.empty{color:#5b6475}details{margin-top:.6rem}summary{cursor:pointer}
.held{background:#fff6e5;border-left:4px solid #e0a030;padding:.4rem .6rem;margin:.4rem 0}
.plan{background:#eef4ff;border-left:4px solid #5b7fd6;padding:.4rem .6rem;margin:.4rem 0}
.control{display:inline-block;margin-left:.4rem;padding:.1rem .5rem;border:1px solid #5b7fd6;border-radius:4px;background:#fff}
.control code{user-select:all;font-family:ui-monospace,monospace}.link{font-family:ui-monospace,monospace;color:#5b6475}
`

const pageScript = `document.documentElement.setAttribute("data-script","ran");
(function(){var e=document.getElementById("live"),n=+e.getAttribute("data-refresh");
function t(){e.textContent="next refresh in "+n+" s";if(n>0)n--}t();setInterval(t,1000)})();`

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

var pageCSP = "default-src 'none'; style-src " + cspHash(pageStyle) + "; script-src " + cspHash(pageScript) +
	"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var pageTemplate = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{{.Refresh}}">
<title>payrun status</title>
<style>{{.Style}}</style>
</head>
<body>
<header>
<h1>payrun</h1>
<p>As of <time datetime="{{.NowISO}}">{{.Now}}</time> · refreshes every {{.Refresh}} s · <a href="api/batches">JSON</a> <span id="live" data-refresh="{{.Refresh}}"></span></p>
</header>
<main>
{{- template "cluster" .Cluster}}
{{- if not .Batches}}
<p class="empty">No batches yet. Drop a payout file into the inbox.</p>
{{- end}}
{{- range .Batches}}
<section class="batch" id="batch-{{.ID}}" data-batch="{{.ID}}">
<h2>{{.ID}} <span class="state state-{{.State}}">{{.State}}</span></h2>
<p class="meta">{{.File}} · created {{.Created}}{{if .DroppedBy}} · dropped by {{.DroppedBy}}{{end}} · {{.Rows}} rows: {{.Valid}} valid, {{.Invalid}} invalid, {{.Duplicates}} duplicate · {{.Final}}/{{.Items}} final{{if .ApprovedBy}} · approved by {{.ApprovedBy}} {{.ApprovedAt}}{{end}} · <a href="{{.API}}">JSON</a></p>
{{- if .Release}}
<p class="held" data-held="{{.ID}}"><b>Held:</b> <span class="reason">{{.Note}}</span>. Nothing of it is sent until it is approved.
<span class="control" data-control="approve">Approve: <code>{{.ApproveCommand}}</code></span></p>
{{- end}}
{{- if .Send}}
<p class="plan" data-plan="{{.ID}}"><b>To be sent {{.Send}}{{if .SendAtText}}, {{.SendAtText}}{{end}}</b>.
<span class="control" data-control="send-now">Send now: <code>{{.SendCommand}}</code></span></p>
{{- end}}
{{- if .Providers}}
<table class="providers">
<thead><tr><th>Provider</th><th>Progress</th><th class="num">Final</th><th>By state</th><th>Amounts (paid of total)</th></tr></thead>
<tbody>
{{- range .Providers}}
<tr data-provider="{{.Provider}}">
<td>{{.Provider}}</td>
<td><progress max="{{.Total}}" value="{{.Final}}" aria-label="{{.Provider}} progress">{{.Percent}}%</progress></td>
<td class="num progress-text">{{.Final}}/{{.Total}} final ({{.Percent}}%)</td>
<td>{{range .States}}<span class="chip">{{.State}} {{.Count}}</span> {{end}}</td>
<td class="num">{{range .Amounts}}{{.Paid}} of {{.Total}} {{.Currency}}<br>{{end}}</td>
</tr>
{{- end}}
</tbody>
</table>
{{- end}}
{{- if .Open}}
<details{{if .OpenShown}} open{{end}}>
<summary>{{.OpenCount}} open item(s){{if .OpenMore}}, first {{len .Open}} shown{{end}}</summary>
<table class="open">
<thead><tr><th>Payout</th><th class="num">Row</th><th>Provider</th><th>State</th><th class="num">Amount</th><th>Since</th><th>Reason or link</th></tr></thead>
<tbody>
{{- range .Open}}
<tr><td>{{.PayoutID}}</td><td class="num">{{.Row}}</td><td>{{.Provider}}</td><td>{{.State}}</td><td class="num">{{.Amount}} {{.Currency}}</td><td>{{.Updated}}</td><td>{{.Reason}}{{if .URL}} <span class="link" title="the whole link: payrun status --batch">{{.URL}}</span>{{end}}</td></tr>
{{- end}}
</tbody>
</table>
</details>
{{- end}}
</section>
{{- end}}
</main>
<script>{{.Script}}</script>
</body>
</html>
`))

type pageData struct {
	Refresh int
	Now     string
	NowISO  string
	Style   template.CSS
	Script  template.JS
	Batches []pageBatch
	Cluster *pageCluster
}

type pageBatch struct {
	BatchStatus
	Created string
	// ApprovedAt and SendAtText are times as the page shows them;
	// ApproveCommand and SendCommand what an operator runs on the
	// daemon's host (the page changes nothing itself: it may be reachable
	// by more than the operators).
	ApprovedAt, SendAtText      string
	ApproveCommand, SendCommand string
	API                         string
	Providers                   []pageProvider
	Open                        []pageOpenItem
	OpenCount                   int
	OpenMore                    bool
	OpenShown                   bool
}

type pageProvider struct {
	ProviderProgress
	States []stateCount
}

type stateCount struct {
	State string
	Count int
}

type pageOpenItem struct {
	OpenItem
	Updated string
}

// stateOrder sorts states in life order (batch.States), unknown ones last.
func stateOrder(m map[string]int) []stateCount {
	rank := map[string]int{}
	for i, s := range journal.States {
		rank[string(s)] = i
	}
	out := make([]stateCount, 0, len(m))
	for s, n := range m {
		out = append(out, stateCount{State: s, Count: n})
	}
	sort.Slice(out, func(a, b int) bool {
		ra, oka := rank[out[a].State]
		rb, okb := rank[out[b].State]
		if oka != okb {
			return oka
		}
		if ra != rb {
			return ra < rb
		}
		return out[a].State < out[b].State
	})
	return out
}

func (s *server) page(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	loc := s.o.Location
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format("2006-01-02 15:04:05 MST")
	}
	bs, err := s.o.Status.Batches(ctx, s.o.PageBatches)
	if err != nil {
		s.o.Log.Error("status page", "err", err)
		text(w, http.StatusInternalServerError, "the journal could not be read; see the daemon's log\n")
		return
	}
	now := s.o.Now()
	d := pageData{Refresh: max(1, int(s.o.Refresh/time.Second)), Now: stamp(now), NowISO: now.UTC().Format(time.RFC3339),
		Style: template.CSS(pageStyle), Script: template.JS(pageScript), Cluster: s.clusterPage(ctx, stamp)}
	for _, b := range bs {
		pb := pageBatch{BatchStatus: b, Created: stamp(b.Created), API: "api/batches/" + url.PathEscape(b.ID),
			ApprovedAt: stamp(b.Approved), SendAtText: stamp(b.SendAt),
			ApproveCommand: s.o.Command + " approve " + b.ID, SendCommand: s.o.Command + " send " + b.ID}
		for _, p := range b.Providers {
			pb.Providers = append(pb.Providers, pageProvider{ProviderProgress: p, States: stateOrder(p.States)})
		}
		pb.OpenCount = b.Items - b.Final
		if pb.OpenCount > 0 {
			open, err := s.o.Status.OpenItems(ctx, b.ID, s.o.PageOpenItems)
			if err != nil {
				s.o.Log.Error("status page", "batch", b.ID, "err", err)
			}
			for _, it := range open {
				pb.Open = append(pb.Open, pageOpenItem{OpenItem: it, Updated: stamp(it.Updated)})
			}
			pb.OpenMore = pb.OpenCount > len(pb.Open)
			pb.OpenShown = b.State != string(journal.BatchDone)
		}
		d.Batches = append(d.Batches, pb)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		s.o.Log.Error("status page", "err", err)
		text(w, http.StatusInternalServerError, "the status page could not be rendered\n")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
