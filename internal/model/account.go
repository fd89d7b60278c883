package model

import "time"

// Account is an API account.
type Account struct {
	ID           int64
	Login        string
	PasswordHash string // argon2id, PHC string format
	ReadOnly     bool
	Disabled     bool
	Created      time.Time
	Updated      time.Time
}

// Billing is an account's credit and payment mode.
type Billing struct {
	Limited      bool  // false: unlimited credit
	CreditCents  int64 // when Limited
	CustomerPays bool
}
