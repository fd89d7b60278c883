package pgcluster

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

const supported = true

// sysProcAttr runs a program as u (nil: ourselves). A server (long-running
// postmaster) gets its own process group, so a terminal's Ctrl-C reaches
// only the process that started it, and SIGQUIT — immediate shutdown — when
// that process dies, so that it does not outlive it.
func sysProcAttr(u *osUser, server bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{}
	if u != nil {
		a.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid}
	}
	if server {
		a.Setpgid = true
		a.Pdeathsig = syscall.SIGQUIT
	}
	return a
}

func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	// A zombie (exited, not yet reaped, e.g. under an init that does not
	// reap) is not alive.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// pid (comm) state ...; comm may contain spaces and parentheses.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}
