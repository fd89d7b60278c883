package model

import "time"

// Certificate is one certificate request of an order and, once issued, the
// certificate (migration 00011).
type Certificate struct {
	ID          int64
	OrderNumber int64
	State       CertState
	CSR         []byte   // DER
	Names       []string // primary first
	Serial      string   // lowercase hex, "" until issued
	DER         []byte
	NotBefore   time.Time
	NotAfter    time.Time
	Issued      time.Time
	Revoked     time.Time // zero: not revoked
	Reason      int       // RFC 5280 reason code of the revocation
	Created     time.Time
}
