package model

import "time"

// LoginFailures is the count of failed logins of one subject (a login name
// or a source address) in its current window, and its lock.
type LoginFailures struct {
	Subject     string
	Label       string // what the log may show of the subject
	Failures    int
	WindowStart time.Time
	LockedUntil time.Time // zero when not locked
}

// LoginSubject names what a failed login is counted against.
type LoginSubject struct {
	Subject string
	Label   string
}

// LoginState is what a login attempt is decided on: the account of the
// login name, if there is one, and the failed-login counts of the subjects
// the attempt would count against.
type LoginState struct {
	Account  Account
	Known    bool // an account has the login name
	Failures []LoginFailures
	// KnownSince is when the account last logged in successfully from
	// the source asked about (as recorded: at most a day stale), or zero.
	KnownSince time.Time
}
