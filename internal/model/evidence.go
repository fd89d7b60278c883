package model

import "time"

// CodeAttempts is the count of wrong codes of one subject (a source, or a
// source for one order) in the current window.
type CodeAttempts struct {
	Failures    int
	WindowStart time.Time
}

// CodeSubject is what a submitted code counts against: a source across all
// orders (OrderNumber and Epoch 0), or a source for one order under the
// epoch of the order's newest DCV email (its id).
type CodeSubject struct {
	Subject     string
	OrderNumber int64
	Epoch       int64
}

// RevokedCertificate is one entry of the CRL.
type RevokedCertificate struct {
	Serial string
	At     time.Time
	Reason int
}
