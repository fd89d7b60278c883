package wire

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

// Format is a response encoding.
type Format int

const (
	// FormatForm is application/x-www-form-urlencoded, the API's default.
	FormatForm Format = iota
	// FormatText is the line-based text of GetDCVEmailAddressList.
	FormatText
	// FormatJSON is a JSON object (responseFormat=2).
	FormatJSON
)

// ContentType is the Content-Type header of a response in format f.
func (f Format) ContentType() string {
	switch f {
	case FormatText:
		return "text/plain; charset=utf-8"
	case FormatJSON:
		return "application/json"
	}
	return "application/x-www-form-urlencoded"
}

// EncodeForm writes pairs in order, each name and value escaped as Go's
// url.QueryEscape does (space as +, ! as %21, an apostrophe as %27).
func EncodeForm(pairs []Pair) []byte {
	var b bytes.Buffer
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.Value))
	}
	return b.Bytes()
}

// Success is the exact success body of ResendDCVEmail and AutoUpdateDCV.
var Success = []byte("errorCode=0")

// ErrorPairs are the keys of an error answer in the contract's order:
// errorCode, errorMessage, errorItem (when set), errorDetail (when set).
func ErrorPairs(e *Error) []Pair {
	p := []Pair{{Name: "errorCode", Value: strconv.Itoa(int(e.Code))}, {Name: "errorMessage", Value: e.Message()}}
	if e.Item != "" {
		p = append(p, Pair{Name: "errorItem", Value: e.Item})
	}
	if e.Detail != "" {
		p = append(p, Pair{Name: "errorDetail", Value: e.Detail})
	}
	return p
}

// Field is one key of a JSON object whose keys keep their order.
type Field struct {
	Key   string
	Value any
}

// EncodeJSON writes an object with its keys in the given order.
func EncodeJSON(fields []Field) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Key)
		v, err := json.Marshal(f.Value)
		if err != nil {
			v = []byte("null")
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// ErrorFields are the keys of a JSON error answer.
func ErrorFields(e *Error) []Field {
	f := []Field{{"errorCode", int(e.Code)}, {"errorMessage", e.Message()}}
	if e.Item != "" {
		f = append(f, Field{"errorItem", e.Item})
	}
	if e.Detail != "" {
		f = append(f, Field{"errorDetail", e.Detail})
	}
	return f
}

// EncodeText writes the line-based format: the status line "0", then one
// "key<TAB>value" line per pair, LF line ends.
func EncodeText(pairs []Pair) []byte {
	var b bytes.Buffer
	b.WriteString("0\n")
	for _, p := range pairs {
		b.WriteString(p.Name)
		b.WriteByte('\t')
		b.WriteString(p.Value)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// EncodeTextError writes an error in the line-based format: the negative
// code on line 1, the message on line 2. The message of -2 quotes a name
// the client sent, which may hold a line break: control characters become
// '?', so that the message stays one line and adds no lines of its own.
func EncodeTextError(e *Error) []byte {
	line := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, e.Message())
	return []byte(strconv.Itoa(int(e.Code)) + "\n" + line + "\n")
}

// EncodeError writes e in format f.
func EncodeError(f Format, e *Error) []byte {
	switch f {
	case FormatText:
		return EncodeTextError(e)
	case FormatJSON:
		return EncodeJSON(ErrorFields(e))
	}
	return EncodeForm(ErrorPairs(e))
}
