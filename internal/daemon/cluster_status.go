package daemon

import (
	"context"
	"html/template"
	"net/http"
	"sort"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/prometheus/client_golang/prometheus"
)

// ClusterSource is the view of a cluster of payrun processes on one
// shared journal that /api/cluster, the status page, `payrun status` and
// /metrics show.
type ClusterSource interface {
	Cluster(ctx context.Context) (ClusterStatus, error)
}

// ClusterStatus is the cluster as one node sees it.
type ClusterStatus struct {
	// Node is this node's id, LeaseLeft what is left of its lease as it
	// sees it (0: lost).
	Node      string        `json:"node"`
	LeaseLeft time.Duration `json:"lease_left"`
	// Leader names the node that runs the schedules and the intake
	// ("" for none), Leading says it is this one.
	Leader     string               `json:"leader"`
	LeaderNode string               `json:"leader_node"`
	Leading    bool                 `json:"leading"`
	Nodes      []journal.Node       `json:"nodes"`
	Leaders    []journal.Leadership `json:"leaders"`
	Providers  []ProviderRate       `json:"providers"`
}

// ProviderRate is a provider's rate for the whole cluster.
type ProviderRate struct {
	Provider string `json:"provider"`
	// Configured is the configured rate, Rate the one in force (lower
	// once the provider refused), Limit the provider's limit as last
	// learned (0: never refused).
	Configured float64 `json:"configured"`
	Rate       float64 `json:"rate"`
	Limit      float64 `json:"limit,omitempty"`
	// Accepted is what the provider accepted in the last full second.
	Accepted int   `json:"accepted_last_second"`
	Granted  int64 `json:"granted"`
	Refused  int64 `json:"refused"`
	// Senders counts the nodes sending to the provider lately.
	Senders int `json:"senders"`
}

// ClusterView is the ClusterSource over a shared journal.
type ClusterView struct {
	C journal.Cluster
	// Leading, when set, says whether this node leads (as it acts, not as
	// the journal last recorded it).
	Leading func() bool
}

// Cluster reads the nodes, the leaders and the budgets.
func (v ClusterView) Cluster(ctx context.Context) (ClusterStatus, error) {
	l := v.C.Lease()
	st := ClusterStatus{Node: l.Node, LeaseLeft: max(time.Until(l.Until), 0).Round(time.Millisecond)}
	if l.Until.IsZero() {
		st.LeaseLeft = 0
	}
	var err error
	if st.Nodes, err = v.C.Nodes(ctx); err != nil {
		return st, err
	}
	if st.Leaders, err = v.C.Leaders(ctx); err != nil {
		return st, err
	}
	for _, ld := range st.Leaders {
		if ld.Role == leaderRole && ld.Until.After(time.Now()) {
			st.Leader, st.LeaderNode = ld.Name, ld.Node
		}
	}
	if v.Leading != nil {
		st.Leading = v.Leading()
	}
	bs, err := v.C.Budgets(ctx)
	if err != nil {
		return st, err
	}
	for _, b := range bs {
		pr := ProviderRate{Provider: b.Provider, Configured: b.Ceiling, Rate: b.Rate, Limit: b.Limit, Granted: b.Granted,
			Refused: b.Refused, Senders: len(b.Senders)}
		// The counts are as of the last reservation: a second that ended
		// since is the last full one, and two are none.
		switch gap := time.Since(b.Second); {
		case gap < time.Second:
			pr.Accepted = b.Previous
		case gap < 2*time.Second:
			pr.Accepted = b.Accepted
		}
		st.Providers = append(st.Providers, pr)
	}
	sort.Slice(st.Providers, func(a, b int) bool { return st.Providers[a].Provider < st.Providers[b].Provider })
	return st, nil
}

// cluster serves /api/cluster.
func (s *server) cluster(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := s.o.Cluster.Cluster(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// pageCluster is the cluster's block of the status page.
type pageCluster struct {
	ClusterStatus
	Nodes []pageNode
}

type pageNode struct {
	journal.Node
	Leader  bool
	Self    bool
	Renewed string
	Until   string
}

// clusterBlock is the status page's cluster section.
var _ = template.Must(pageTemplate.New("cluster").Parse(`{{if .}}
<section class="batch" id="cluster">
<h2>Cluster <span class="state">{{len .Nodes}} node(s)</span></h2>
<p class="meta">{{if .Leader}}{{.Leader}} leads (schedules, intake){{else}}no leader{{end}}{{if .Leading}} · this node leads{{end}} · this node {{.Node}}{{if .LeaseLeft}}, lease {{.LeaseLeft}} left{{else}}, <strong>no lease: it sends nothing</strong>{{end}} · <a href="api/cluster">JSON</a></p>
<table class="nodes">
<thead><tr><th>Node</th><th>Host</th><th>Role</th><th>Lease</th><th>Renewed</th><th class="num">Holding</th></tr></thead>
<tbody>
{{- range .Nodes}}
<tr data-node="{{.ID}}"><td>{{.Name}} <small>{{.ID}}</small>{{if .Leader}} <span class="state">leader</span>{{end}}{{if .Self}} <span class="state">this node</span>{{end}}</td><td>{{.Host}} pid {{.PID}}{{if .Addr}} · {{.Addr}}{{end}}</td><td>{{.Role}}</td><td>{{if .Live}}until {{.Until}}{{else}}<strong>lapsed</strong> {{.Until}}{{end}}</td><td>{{.Renewed}}</td><td class="num">{{.Holding}}</td></tr>
{{- end}}
</tbody>
</table>
{{- if .Providers}}
<table class="rates">
<thead><tr><th>Provider</th><th class="num">Configured /s</th><th class="num">In force /s</th><th class="num">Learned limit /s</th><th class="num">Accepted last second</th><th class="num">Refused</th><th class="num">Nodes sending</th></tr></thead>
<tbody>
{{- range .Providers}}
<tr data-provider="{{.Provider}}"><td>{{.Provider}}</td><td class="num">{{printf "%.0f" .Configured}}</td><td class="num">{{printf "%.1f" .Rate}}</td><td class="num">{{if .Limit}}{{printf "%.1f" .Limit}}{{end}}</td><td class="num">{{.Accepted}}</td><td class="num">{{.Refused}}</td><td class="num">{{.Senders}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}
</section>
{{- end}}`))

// clusterPage is the cluster's block for the page, nil without a cluster
// (or when it cannot be read: the log says why).
func (s *server) clusterPage(ctx context.Context, stamp func(time.Time) string) *pageCluster {
	if s.o.Cluster == nil {
		return nil
	}
	st, err := s.o.Cluster.Cluster(ctx)
	if err != nil {
		s.o.Log.Error("status page: cluster", "err", err)
		return nil
	}
	pc := &pageCluster{ClusterStatus: st}
	for _, n := range st.Nodes {
		pc.Nodes = append(pc.Nodes, pageNode{Node: n, Leader: n.ID == st.LeaderNode, Self: n.ID == st.Node,
			Renewed: stamp(n.Renewed), Until: stamp(n.LeaseUntil)})
	}
	return pc
}

// clusterCollector exposes the cluster at each scrape of /metrics.
type clusterCollector struct{ src ClusterSource }

var (
	clusterNodesDesc = prometheus.NewDesc("payrun_cluster_nodes",
		"Nodes of the cluster sharing the journal, by whether their lease is live.", []string{"state"}, nil)
	clusterHoldingDesc = prometheus.NewDesc("payrun_cluster_node_holding",
		"Payouts each node holds in flight (sending, confirming).", []string{"node"}, nil)
	clusterLeaderDesc = prometheus.NewDesc("payrun_cluster_leader",
		"1 for the node that leads (runs the schedules and the intake).", []string{"node"}, nil)
	clusterLeadingDesc = prometheus.NewDesc("payrun_cluster_this_node_leads",
		"1 when this node leads.", nil, nil)
	clusterLeaseDesc = prometheus.NewDesc("payrun_cluster_lease_seconds",
		"What is left of this node's lease as it sees it (0: lost; it sends nothing).", nil, nil)
	providerRateDesc = prometheus.NewDesc("payrun_provider_rate_per_second",
		"Each provider's rate for the whole cluster: configured, in force, learned limit, accepted in the last second.",
		[]string{"provider", "kind"}, nil)
)

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{clusterNodesDesc, clusterHoldingDesc, clusterLeaderDesc, clusterLeadingDesc,
		clusterLeaseDesc, providerRateDesc} {
		ch <- d
	}
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.src.Cluster(ctx)
	leads := 0.0
	if st.Leading {
		leads = 1
	}
	ch <- prometheus.MustNewConstMetric(clusterLeadingDesc, prometheus.GaugeValue, leads)
	ch <- prometheus.MustNewConstMetric(clusterLeaseDesc, prometheus.GaugeValue, st.LeaseLeft.Seconds())
	if err != nil {
		return
	}
	live, lapsed := 0, 0
	for _, n := range st.Nodes {
		if n.Live {
			live++
		} else {
			lapsed++
		}
		ch <- prometheus.MustNewConstMetric(clusterHoldingDesc, prometheus.GaugeValue, float64(n.Holding), n.ID)
		if n.ID == st.LeaderNode {
			ch <- prometheus.MustNewConstMetric(clusterLeaderDesc, prometheus.GaugeValue, 1, n.ID)
		}
	}
	ch <- prometheus.MustNewConstMetric(clusterNodesDesc, prometheus.GaugeValue, float64(live), "live")
	ch <- prometheus.MustNewConstMetric(clusterNodesDesc, prometheus.GaugeValue, float64(lapsed), "lapsed")
	for _, p := range st.Providers {
		for kind, v := range map[string]float64{"configured": p.Configured, "in_force": p.Rate, "limit": p.Limit,
			"accepted": float64(p.Accepted)} {
			ch <- prometheus.MustNewConstMetric(providerRateDesc, prometheus.GaugeValue, v, p.Provider, kind)
		}
	}
}
