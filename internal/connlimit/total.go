package connlimit

// reserve is the least number of file descriptors DefaultTotal leaves to
// the rest of the process: the database's files and connections, SMTP,
// DNS queries, the admin listener, the log.
const reserve = 128

// DefaultTotal is serve's --max-connections when it is not given: three
// quarters of the process's open-file limit (Go raises the soft limit to
// the hard one at start), leaving at least reserve descriptors for
// everything else, so that a flood of connections can never leave the
// database or the mail without one. 0 (no bound) where the limit cannot be
// read.
func DefaultTotal() int {
	return totalFor(openFileLimit())
}

func totalFor(files uint64) int {
	if files == 0 {
		return 0
	}
	keep := max(files/4, reserve)
	if files <= keep {
		return 1
	}
	return int(min(files-keep, 1<<30))
}
