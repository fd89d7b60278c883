package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// This file reads answers, the other way round from encode.go: the client
// library decodes with it, and server tests can use it to check what the
// server wrote. Decoding is lenient where real servers (the vendor's among
// them) are sloppy, and strict only about the errorCode, without which an
// answer means nothing.

// Status is what every answer carries: the errorCode and, with a negative
// code, the errorMessage, errorItem and errorDetail as the server sent them
// (empty when absent).
type Status struct {
	Code    Code
	Message string
	Item    string
	Detail  string
}

// ErrNoStatus means that an answer carries no errorCode that is an integer:
// it is not an answer of this API (an HTML error page, a proxy's reply).
var ErrNoStatus = errors.New("wire: answer carries no integer errorCode")

const (
	keyCode    = "errorCode"
	keyMessage = "errorMessage"
	keyItem    = "errorItem"
	keyDetail  = "errorDetail"
)

// utf8BOM is stripped from the front of answers: some Windows-based proxies
// add it.
var utf8BOM = []byte("\xef\xbb\xbf")

// DecodeForm splits a form-encoded answer into its pairs, in order, as
// ParseForm does (a pair with a bad %-escape is kept as sent, with Bad set),
// ignoring a UTF-8 BOM and the white space and line ends around the body.
// It never fails: whether the answer has an errorCode is FormStatus's
// business.
func DecodeForm(body []byte) []Pair {
	return ParseForm(string(bytes.TrimSpace(bytes.TrimPrefix(body, utf8BOM))))
}

// FormStatus reads the status from the pairs of a form-encoded answer: the
// first errorCode, errorMessage, errorItem and errorDetail, names matched
// case-insensitively. An errorCode that is missing or not an integer is
// ErrNoStatus.
func FormStatus(pairs []Pair) (Status, error) {
	var st Status
	var code string
	var seenCode, seenMessage, seenItem, seenDetail bool
	for _, p := range pairs {
		switch {
		case !seenCode && strings.EqualFold(p.Name, keyCode):
			code, seenCode = p.Value, true
		case !seenMessage && strings.EqualFold(p.Name, keyMessage):
			st.Message, seenMessage = p.Value, true
		case !seenItem && strings.EqualFold(p.Name, keyItem):
			st.Item, seenItem = p.Value, true
		case !seenDetail && strings.EqualFold(p.Name, keyDetail):
			st.Detail, seenDetail = p.Value, true
		}
	}
	if !seenCode {
		return st, ErrNoStatus
	}
	c, err := parseCode(code)
	if err != nil {
		return st, err
	}
	st.Code = c
	return st, nil
}

func parseCode(s string) (Code, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, ErrNoStatus
	}
	return Code(n), nil
}

// IsStatusKey reports whether name is one of the status keys (errorCode,
// errorMessage, errorItem, errorDetail), case-insensitively.
func IsStatusKey(name string) bool {
	for _, k := range []string{keyCode, keyMessage, keyItem, keyDetail} {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// DecodeText decodes the line-based format of GetDCVEmailAddressList. Line 1
// is the code; with a negative code, line 2 is the message. Every other line
// is "key<TAB>value". It tolerates what real servers send: CRLF line ends, a
// space after the tab (or spaces instead of the tab), trailing white space,
// blank lines anywhere, a UTF-8 BOM, and unknown keys (returned like the
// others). Lines named errorItem or errorDetail after an error fill those
// fields of the status and are not returned as pairs. A first line that is
// not an integer is ErrNoStatus.
func DecodeText(body []byte) (Status, []Pair, error) {
	lines := strings.Split(string(bytes.TrimPrefix(body, utf8BOM)), "\n")
	i := 0
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	if i == len(lines) {
		return Status{}, nil, ErrNoStatus
	}
	first := strings.TrimSpace(lines[i])
	i++
	// Some servers put the message on the status line ("-16 Incorrect ...").
	codeText, rest, _ := strings.Cut(first, " ")
	if t, r, ok := strings.Cut(codeText, "\t"); ok {
		codeText, rest = t, r+" "+rest
	}
	code, err := parseCode(codeText)
	if err != nil {
		return Status{}, nil, err
	}
	st := Status{Code: code}
	if code < 0 {
		st.Message = strings.TrimSpace(rest)
		for st.Message == "" && i < len(lines) {
			st.Message = strings.TrimSpace(lines[i])
			i++
		}
	}
	var pairs []Pair
	for ; i < len(lines); i++ {
		// Only the left is trimmed before the cut: the tab of a key with
		// an empty value ("name\t") ends the line.
		line := strings.TrimLeftFunc(lines[i], unicode.IsSpace)
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, value, ok := strings.Cut(line, "\t")
		if !ok {
			key, value, _ = strings.Cut(strings.TrimSpace(line), " ")
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if code < 0 {
			switch {
			case strings.EqualFold(key, keyItem):
				st.Item = value
				continue
			case strings.EqualFold(key, keyDetail):
				st.Detail = value
				continue
			}
		}
		pairs = append(pairs, Pair{Name: key, Value: value})
	}
	return st, pairs, nil
}

// DecodeJSON decodes a JSON answer: a single object whose errorCode is an
// integer (a number, or a string holding one, as some servers send). It
// returns the status and every member, status members included, undecoded.
// Members are matched case-sensitively except errorCode and its companions,
// which are also found in another case.
func DecodeJSON(body []byte) (Status, map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimPrefix(body, utf8BOM), &obj); err != nil {
		return Status{}, nil, fmt.Errorf("wire: JSON answer: %w", err)
	}
	if obj == nil {
		return Status{}, nil, ErrNoStatus
	}
	raw := func(key string) (json.RawMessage, bool) {
		if v, ok := obj[key]; ok {
			return v, true
		}
		for k, v := range obj {
			if strings.EqualFold(k, key) {
				return v, true
			}
		}
		return nil, false
	}
	codeRaw, ok := raw(keyCode)
	if !ok {
		return Status{}, obj, ErrNoStatus
	}
	code, err := jsonCode(codeRaw)
	if err != nil {
		return Status{}, obj, err
	}
	st := Status{Code: code}
	for key, dst := range map[string]*string{keyMessage: &st.Message, keyItem: &st.Item, keyDetail: &st.Detail} {
		if v, ok := raw(key); ok {
			*dst = JSONString(v)
		}
	}
	return st, obj, nil
}

func jsonCode(raw json.RawMessage) (Code, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if c, err := parseCode(n.String()); err == nil {
			return c, nil
		}
		// 0.0 or -4e0: integral, written as a float.
		if f, err := n.Float64(); err == nil && f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 {
			return Code(int(f)), nil
		}
		return 0, ErrNoStatus
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return parseCode(s)
	}
	return 0, ErrNoStatus
}

// JSONString is the text of a JSON member: a string's value, null's empty
// string, and for anything else (a number, an object) its JSON text.
func JSONString(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	t := strings.TrimSpace(string(raw))
	if t == "null" {
		return ""
	}
	return t
}

// ItemFromMessage recovers the parameter name from the errorMessage of a
// -2, -3 or -4 answer, reading the message against the table: for the text
// format, which carries no errorItem. It returns "" when message does not
// have the table's shape for code.
func ItemFromMessage(code Code, message string) string {
	e, ok := table[code]
	if !ok {
		return ""
	}
	prefix, suffix, ok := strings.Cut(e.message, itemPlaceholder)
	if !ok || len(message) <= len(prefix)+len(suffix) {
		return ""
	}
	if !strings.HasPrefix(message, prefix) || !strings.HasSuffix(message, suffix) {
		return ""
	}
	return message[len(prefix) : len(message)-len(suffix)]
}
