package model

import "time"

// CapturedMail is a message the built-in mailbox received instead of a mail
// server.
type CapturedMail struct {
	ID          int64     `json:"id"`
	DeliveryID  int64     `json:"deliveryId"`
	OrderNumber int64     `json:"orderNumber"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Subject     string    `json:"subject"`
	Text        string    `json:"text"`
	HTML        string    `json:"html"`
	MessageID   string    `json:"messageId"`
	DCVCode     string    `json:"dcvCode"`
	Raw         string    `json:"raw"`
	Captured    time.Time `json:"capturedAt"`
}

// MailFilter selects captured messages; zero fields select everything.
type MailFilter struct {
	OrderNumber int64
	To          string    // the recipient's address, compared without regard to case
	Since       time.Time // captured at or after
}
