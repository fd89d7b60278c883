package mail

import (
	"bytes"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// DefaultFrom is the From address of DCV emails when the operator sets
// none (serve --mail-from).
const DefaultFrom = "dcvmail@localhost"

// Message is one email ready to be composed and sent.
type Message struct {
	From      string
	To        string
	MessageID string // without angle brackets
	Date      time.Time
	Rendered
}

// Compose builds the MIME message: plain text, and HTML as an alternative
// when there is one, quoted-printable UTF-8, with the headers a receiving
// server expects of automated mail. Addresses are parsed, never pasted into
// headers, so no header can be injected.
func Compose(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithEncoding(gomail.EncodingQP), gomail.WithCharset(gomail.CharsetUTF8))
	if err := msg.From(m.From); err != nil {
		return nil, fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("mail: to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(m.Date)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetUserAgent("dcvmail")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// Bytes is the composed message as it would go over SMTP.
func (m Message) Bytes() ([]byte, error) {
	msg, err := Compose(m)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("mail: compose: %w", err)
	}
	return b.Bytes(), nil
}
