package model

import "time"

// CodeAttempts is the count of wrong codes of one subject (a source, or a
// source for one order) in the current window.
type CodeAttempts struct {
	Failures    int
	WindowStart time.Time
}

// RevokedCertificate is one entry of the CRL.
type RevokedCertificate struct {
	Serial string
	At     time.Time
	Reason int
}
