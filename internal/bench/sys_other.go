//go:build !unix

package bench

import "time"

// cpuTime is not measured here: CPU per request reads 0.
func cpuTime() time.Duration { return 0 }

// syncDisks does nothing here.
func syncDisks() {}
