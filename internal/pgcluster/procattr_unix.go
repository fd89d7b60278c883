//go:build unix && !linux

package pgcluster

import "syscall"

const supported = true

// sysProcAttr runs a program as u (nil: ourselves). A server gets its own
// process group. There is no parent-death signal here: a server whose test
// process is killed keeps running until stopped by hand.
func sysProcAttr(u *osUser, server bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: server}
	if u != nil {
		a.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid}
	}
	return a
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
