//go:build !unix

package pgcluster

import "syscall"

// Starting a cluster needs Unix process control; elsewhere only
// DCVMAIL_TEST_POSTGRES_URL works.
const supported = false

func sysProcAttr(*osUser, bool) *syscall.SysProcAttr { return nil }

func processAlive(int) bool { return true }
