// Package model holds dcvmail's domain types: accounts, orders and their
// domains, DCV emails and their deliveries, address offers, confirmations,
// templates and certificates, with typed states and methods.
//
// The store maps its rows to these types and back; dcv decides on them; api,
// admin, web and cli show them. The package imports nothing of dcvmail, so
// that a package which only reads or shows the domain's data (api, cli)
// need not import the store that keeps it.
package model

import "errors"

// ErrNotFound is returned when the row asked for does not exist (or
// belongs to another account, which callers must not tell apart).
var ErrNotFound = errors.New("store: not found")

// ErrExists is returned when a row with the same key already exists.
var ErrExists = errors.New("store: already exists")
