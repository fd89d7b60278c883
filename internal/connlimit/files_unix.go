//go:build unix

package connlimit

import "syscall"

// openFileLimit is the soft RLIMIT_NOFILE, 0 when unknown or unlimited.
func openFileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	cur := uint64(r.Cur) // int64 on some systems, where infinity is -1
	if cur == ^uint64(0) {
		return 0
	}
	return cur
}
