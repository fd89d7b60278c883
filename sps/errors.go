package sps

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dcvmail/dcvmail/internal/wire"
)

// Kinds of failure, for errors.Is. An *Error matches the kind of its code;
// a *TransportError matches ErrTransport. Codes without a kind here (-1, -14,
// -17 and codes this package does not know) match none: use Error.Code.
var (
	// ErrAuthentication is errorCode -16: wrong login name or password, a
	// locked account, an expired password or a blocked source address (the
	// server does not say which).
	ErrAuthentication = errors.New("sps: authentication failed")

	// ErrPermission is errorCode -91: the account may not make this call.
	ErrPermission = errors.New("sps: permission denied")

	// ErrInvalidArgument is errorCode -2 (unknown parameter), -3 (missing
	// parameter) and -4 (invalid value, including an order that does not
	// exist or belongs to another account). All three mean that this
	// request will never succeed as it is; Error.Item names the parameter
	// and Error.Code tells the three apart.
	ErrInvalidArgument = errors.New("sps: invalid argument")

	// ErrCannotResend is errorCode -47: nothing of the order awaits email
	// validation, no DCV email was ever sent, or the resend limit is
	// reached (then Error.Detail may say when to try again).
	ErrCannotResend = errors.New("sps: DCV email cannot be resent")

	// ErrTransport is any failure to get an answer: the network, an HTTP
	// status other than 200, or a body that is not an answer of this API.
	// The error is a *TransportError.
	ErrTransport = errors.New("sps: transport failure")
)

// Error is a negative errorCode answered by the server.
type Error struct {
	// Code is the errorCode, always negative.
	Code int
	// Message is the errorMessage as the server sent it, or the message
	// the API documents for Code when the server sent none.
	Message string
	// Item is the errorItem: the parameter at fault for -2, -3 and -4. For
	// the text format, which has no errorItem, it is read from Message.
	Item string
	// Detail is the errorDetail, a dcvmail addition (empty from the vendor).
	Detail string
}

// Error formats e as "errorCode -4: The value of the 'x' argument is
// invalid! (x)", with ": " and the detail appended when there is one.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "errorCode %d: %s", e.Code, e.Message)
	if e.Item != "" {
		fmt.Fprintf(&b, " (%s)", e.Item)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Is reports whether target is the kind of e's code.
func (e *Error) Is(target error) bool {
	k := kindOf(e.Code)
	return k != nil && target == k
}

func kindOf(code int) error {
	switch wire.Code(code) {
	case wire.BadLogin:
		return ErrAuthentication
	case wire.PermissionDenied:
		return ErrPermission
	case wire.UnknownArgument, wire.MissingArgument, wire.InvalidArgument:
		return ErrInvalidArgument
	case wire.CannotResend:
		return ErrCannotResend
	}
	return nil
}

// TransportError is a call that got no answer of this API. errors.Is(err,
// ErrTransport) is true; Unwrap gives the cause (often a *url.Error, whose
// URL never carries the password, which travels in the request body only).
type TransportError struct {
	// Op is the API call, e.g. "ResendDCVEmail".
	Op string
	// StatusCode is the HTTP status when the server answered with one
	// other than 200; 0 otherwise.
	StatusCode int
	// Attempts is how many times the request was tried.
	Attempts int
	// NotSent is true when the request certainly did not reach the server
	// (it failed while connecting), so nothing can have changed there.
	// When false, a ResendDCVEmail or AutoUpdateDCV may or may not have
	// taken effect: check with GetMDCDomainDetails before trying again.
	NotSent bool
	// Err is the cause.
	Err error

	msg string // built once, with the password removed
}

func (e *TransportError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return "sps: " + e.Op + ": " + errString(e.Err)
}

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Is reports whether target is ErrTransport.
func (e *TransportError) Is(target error) bool { return target == ErrTransport }

func errString(err error) string {
	if err == nil {
		return "unknown failure"
	}
	return err.Error()
}
