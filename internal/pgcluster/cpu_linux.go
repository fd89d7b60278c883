package pgcluster

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// CPUTime is the CPU time, user and system, the cluster's processes have
// used so far: the postmaster, the backends it has reaped, and those still
// running (a benchmark's connections stay open, so their time shows).
// It is 0 when /proc cannot tell.
func (c *Cluster) CPUTime() time.Duration {
	if c.proc == nil {
		return 0
	}
	pm := c.proc.cmd.Process.Pid
	own, _, ok := procCPU(pm, true)
	if !ok {
		return 0
	}
	total := own
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return total
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pm {
			continue
		}
		if t, ppid, ok := procCPU(pid, false); ok && ppid == pm {
			total += t
		}
	}
	return total
}

// procCPU reads utime and stime of a process (with its reaped children's,
// when children is set) and its parent's pid from /proc/PID/stat.
func procCPU(pid int, children bool) (time.Duration, int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 15 {
		return 0, 0, false
	}
	ppid, _ := strconv.Atoi(string(f[1]))
	last := 12 // utime is f[11], stime f[12], cutime f[13], cstime f[14]
	if children {
		last = 14
	}
	var ticks int64
	for _, v := range f[11 : last+1] {
		n, _ := strconv.ParseInt(string(v), 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * clockTick, ppid, true
}
