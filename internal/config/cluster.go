package config

import (
	"fmt"
	"time"
)

// Cluster configures a process that shares its journal (PostgreSQL) with
// other payrun processes. It means nothing for the embedded journal, which
// one process holds.
type Cluster struct {
	// Node names this process in the cluster (default: the host name).
	// Names must differ between the processes of one machine: a process
	// started again under its name on its machine takes over at once what
	// its previous run left in flight.
	Node string `yaml:"node"`
	// Lease is how long a node's lease holds without being renewed
	// (renewed every third of it). A node that stops renewing, and the
	// leader with it, is replaced after Lease; what it was sending is taken
	// over after Lease and the longest provider request (providers'
	// timeout) more.
	Lease time.Duration `yaml:"lease"`
}

// DefaultLease is a node's lease when the configuration does not say.
const DefaultLease = 15 * time.Second

// problems lists what is wrong with the cluster's settings.
func (c Cluster) problems() []string {
	if c.Lease < 300*time.Millisecond {
		return []string{fmt.Sprintf("cluster.lease %s: must be at least 300ms (15s is a good value)", c.Lease)}
	}
	return nil
}
