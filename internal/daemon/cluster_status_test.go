package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/prometheus/client_golang/prometheus"
)

// fakeCluster is a ClusterSource of three nodes, one lapsed.
type fakeCluster struct{ err error }

func (f fakeCluster) Cluster(context.Context) (ClusterStatus, error) {
	at := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	return ClusterStatus{Node: "pay-1#aa", LeaseLeft: 12 * time.Second, Leader: "pay-2", LeaderNode: "pay-2#bb",
		Nodes: []journal.Node{
			{ID: "pay-1#aa", Name: "pay-1", Host: "h1", PID: 10, Role: "serve", Addr: "10.0.0.1:8080", Live: true, Holding: 3, LeaseUntil: at},
			{ID: "pay-2#bb", Name: "pay-2", Host: "h2", PID: 20, Role: "serve", Live: true, LeaseUntil: at},
			{ID: "pay-3#cc", Name: "<pay-3>", Host: "h3", PID: 30, Role: "serve", Live: false, Holding: 7, LeaseUntil: at},
		},
		Providers: []ProviderRate{{Provider: "teemopay", Configured: 200, Rate: 96, Limit: 100, Accepted: 95, Refused: 4, Senders: 2}},
	}, f.err
}

// The cluster on /api/cluster, on the status page (who leads, the nodes
// and their leases, what each holds, each provider's rate for the
// cluster) and on /metrics.
func TestServerShowsTheCluster(t *testing.T) {
	b := setupServer(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(clusterCollector{src: fakeCluster{}})
	srv := httptest.NewServer(NewServer(ServerOptions{Status: JournalStatus{J: b.j}, Cluster: fakeCluster{}, Gatherer: reg, Location: lima}))
	defer srv.Close()

	code, _, body := get(t, srv.URL+"/api/cluster")
	var st ClusterStatus
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Leader != "pay-2" || len(st.Nodes) != 3 || st.Providers[0].Limit != 100 {
		t.Fatalf("/api/cluster: %d %s", code, body)
	}
	_, _, page := get(t, srv.URL+"/")
	for _, want := range []string{
		`id="cluster"`, "pay-2 leads (schedules, intake)", "this node pay-1#aa, lease 12s left",
		`<tr data-node="pay-3#cc"><td>&lt;pay-3&gt;`, "<strong>lapsed</strong>",
		`<td class="num">7</td>`, `<tr data-provider="teemopay"><td>teemopay</td><td class="num">200</td><td class="num">96.0</td><td class="num">100.0</td><td class="num">95</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "<pay-3>") {
		t.Error("a node's name is not escaped")
	}
	for name, want := range map[string]float64{
		`payrun_cluster_nodes{state="live"}`:                                2,
		`payrun_cluster_nodes{state="lapsed"}`:                              1,
		`payrun_cluster_leader{node="pay-2#bb"}`:                            1,
		`payrun_cluster_node_holding{node="pay-3#cc"}`:                      7,
		`payrun_cluster_lease_seconds`:                                      12,
		`payrun_provider_rate_per_second{kind="limit",provider="teemopay"}`: 100,
	} {
		if got := metricValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// A node that cannot read the cluster still shows its batches.
	srv2 := httptest.NewServer(NewServer(ServerOptions{Status: JournalStatus{J: b.j}, Cluster: fakeCluster{err: errors.New("down")}, Location: lima}))
	defer srv2.Close()
	if code, _, page := get(t, srv2.URL+"/"); code != 200 || strings.Contains(page, `id="cluster"`) || !strings.Contains(page, testBatch) {
		t.Errorf("page without the cluster: %d", code)
	}
	if code, _, _ := get(t, srv2.URL+"/api/cluster"); code != 500 {
		t.Errorf("/api/cluster without the cluster: %d", code)
	}
}

// metricValue reads one gauge from reg by its name and labels as the
// exposition writes them.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			if len(m.GetLabel()) > 0 {
				var parts []string
				for _, l := range m.GetLabel() {
					parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
				}
				key += "{" + strings.Join(parts, ",") + "}"
			}
			if key == name {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
