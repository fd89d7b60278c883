// Package wire is the byte-level contract with API clients: the one table of
// error codes and messages, the lenient form parser, and the form, text and
// JSON response encodings. It knows nothing of HTTP handlers, accounts or the
// database, so that the server, the client library and the documentation can
// all read the same table.
package wire

import (
	"fmt"
	"sort"
	"strings"
)

// Code is an errorCode of the vendor's API.
type Code int

// The error codes of docs/api.md §1. Numbers marked "unconfirmed" in the
// contract are listed in docs/sectigo-divergences.md.
const (
	OK               Code = 0
	NotHTTPS         Code = -1
	UnknownArgument  Code = -2
	MissingArgument  Code = -3
	InvalidArgument  Code = -4
	Internal         Code = -14
	BadLogin         Code = -16
	WrongMethod      Code = -17
	CannotResend     Code = -47
	PermissionDenied Code = -91
)

const (
	methodPlaceholder = "GET"
	itemPlaceholder   = "xxxx"
)

// entry is one row of the table: the exact message, with "xxxx" standing for
// the parameter name and "GET" (in -17 only) for the request method.
type entry struct {
	message string
	when    string
}

// table is the single source of every code and message.
var table = map[Code]entry{
	NotHTTPS:         {"Request was not made over https!", "the request reached an API endpoint over plain HTTP"},
	UnknownArgument:  {"'xxxx' is an unrecognised argument!", "a parameter the endpoint does not know; errorItem names it"},
	MissingArgument:  {"The 'xxxx' argument is missing!", "a required parameter is absent or empty; errorItem names it"},
	InvalidArgument:  {"The value of the 'xxxx' argument is invalid!", "bad syntax, too long, out of range, not permitted, or an order that does not exist or belongs to another account; errorItem names it"},
	Internal:         {"An unknown error occurred!", "internal failure (errorDetail carries a request id found in the log), or the account's request limit is reached (errorDetail says when to retry)"},
	BadLogin:         {"Incorrect login details, account is locked, password has expired, or your source IP is blocked!", "authentication failed, for any reason"},
	WrongMethod:      {"Request used GET rather than POST!", "an HTTP method other than POST on an API path"},
	CannotResend:     {"DCV emails cannot be resent!", "nothing awaits email validation, no DCV email was ever sent, or the order's resend limit is reached"},
	PermissionDenied: {"Permission denied!", "authenticated, but the account may not make this call (read-only accounts)"},
}

// Message is the exact errorMessage for code, with item in place of the
// parameter name. For WrongMethod use MethodMessage.
func Message(code Code, item string) string {
	return strings.Replace(table[code].message, itemPlaceholder, item, 1)
}

// MethodMessage is the -17 message naming the method actually used.
func MethodMessage(method string) string {
	return strings.Replace(table[WrongMethod].message, methodPlaceholder, method, 1)
}

// Known reports whether code is in the table.
func Known(code Code) bool {
	_, ok := table[code]
	return ok || code == OK
}

// Row is one documented error code, for documentation and clients.
type Row struct {
	Code    Code
	Message string
	When    string
}

// Table lists every error code in descending order (-1 first).
func Table() []Row {
	rows := make([]Row, 0, len(table))
	for c, e := range table {
		rows = append(rows, Row{c, e.message, e.when})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Code > rows[j].Code })
	return rows
}

// Error is a negative answer: the code, the offending parameter (for -2, -3
// and -4), and an optional detail for people (never secrets or internals).
type Error struct {
	Code   Code
	Item   string
	Detail string
	// Method is the request method, for WrongMethod only.
	Method string
	// Text, when set, replaces the table's message: a fault rule's
	// errorMessage (docs/control.md), or the message of an order call's
	// code that lives with its check (package csr, package dcv).
	Text string
}

// Message is the errorMessage of e.
func (e *Error) Message() string {
	if e.Text != "" {
		return e.Text
	}
	if e.Code == WrongMethod {
		return MethodMessage(e.Method)
	}
	return Message(e.Code, e.Item)
}

func (e *Error) Error() string {
	return fmt.Sprintf("errorCode %d: %s", e.Code, e.Message())
}

// Errorf builds an Error for code on item.
func Errorf(code Code, item string) *Error { return &Error{Code: code, Item: item} }
