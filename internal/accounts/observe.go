package accounts

import "strings"

// LockoutObserver hears of locks being set and of attempts refused because
// of one (the metrics). Its methods must not block.
type LockoutObserver interface {
	// Locked: a lock was set on a login name ("login") or a source
	// address ("source").
	Locked(kind string)
	// Refused: a login attempt was refused because its login name or
	// source was locked.
	Refused()
}

// SetObserver sets the observer; call it before the lockout is used.
func (l *Lockout) SetObserver(o LockoutObserver) {
	if o == nil {
		o = noObserver{}
	}
	l.observer = o
}

type noObserver struct{}

func (noObserver) Locked(string) {}
func (noObserver) Refused()      {}

func kindOf(subject string) string {
	if strings.HasPrefix(subject, sourcePrefix) {
		return "source"
	}
	return "login"
}
