//go:build !linux

package pgcluster

import "time"

// CPUTime is not measured here: 0.
func (c *Cluster) CPUTime() time.Duration { return 0 }
