package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
)

// journalCluster is the cluster of a shared journal (nil for one held by
// one process).
func journalCluster(ctx context.Context, j journal.Journal) (*daemon.ClusterStatus, error) {
	c, ok := j.(journal.Cluster)
	if !ok {
		return nil, nil
	}
	st, err := daemon.ClusterView{C: c}.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	// This command is a node of its own only while it runs: show the
	// others.
	self := st.Node
	nodes := st.Nodes[:0]
	for _, n := range st.Nodes {
		if n.ID != self {
			nodes = append(nodes, n)
		}
	}
	st.Nodes, st.Node, st.LeaseLeft = nodes, "", 0
	return &st, nil
}

// printCluster prints who leads, the nodes with their leases and what
// they hold, and each provider's rate for the whole cluster.
func printCluster(w io.Writer, cl *daemon.ClusterStatus) {
	if cl == nil {
		return
	}
	leader := "no node leads"
	if cl.Leader != "" {
		leader = cl.Leader + " leads (schedules, intake)"
	}
	fmt.Fprintf(w, "Cluster: %d node(s); %s\n", len(cl.Nodes), leader)
	for _, n := range cl.Nodes {
		lease := "lease until " + n.LeaseUntil.Local().Format(time.TimeOnly)
		if !n.Live {
			lease = "LAPSED since " + n.LeaseUntil.Local().Format(time.TimeOnly)
		}
		mark := ""
		if n.ID == cl.LeaderNode {
			mark = "  [leader]"
		}
		if n.ID == cl.Node {
			mark += "  [this node]"
		}
		fmt.Fprintf(w, "    %-24s %-8s %s pid %d  %s  holding %d%s\n", n.ID, n.Role, n.Host, n.PID, lease, n.Holding, mark)
	}
	for _, p := range cl.Providers {
		limit := ""
		if p.Limit > 0 {
			limit = fmt.Sprintf(", provider's limit learned %.1f/s", p.Limit)
		}
		fmt.Fprintf(w, "    %-12s rate %.1f/s of %.0f/s configured%s; accepted %d in the last second; %d node(s) sending\n",
			p.Provider, p.Rate, p.Configured, limit, p.Accepted, p.Senders)
	}
}
