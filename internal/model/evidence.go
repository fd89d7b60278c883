package model

import "time"

// CodeLookup is what the confirmation page's POST reads first about an
// order and a submitted code, in one statement.
type CodeLookup struct {
	Exists bool  // the order exists
	Epoch  int64 // the id of the order's newest DCV email; 0 when none was sent
	// Email is the order's email whose random value has the code's keyed
	// hash, without its message (Subject, Text and HTML are empty); its ID
	// is 0 when no email of the order has that code.
	Email Email
}

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
