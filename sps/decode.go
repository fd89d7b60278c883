package sps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/wire"
)

// answer is a decoded body in any of the three formats.
type answer struct {
	format wire.Format
	status wire.Status
	pairs  []wire.Pair                // form and text, status keys left out
	object map[string]json.RawMessage // JSON
}

// decodeAnswer decodes body by its shape rather than by the format asked
// for or the Content-Type: servers answer some errors (an unknown
// parameter, a bad login) in the default format whatever was asked, and
// the vendor's Content-Type is not always right. A JSON object starts with
// '{', the text format with a line holding an integer; anything else is
// read as a form.
func decodeAnswer(body []byte) (*answer, error) {
	t := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	switch {
	case len(t) == 0:
		return nil, errors.New("empty answer")
	case t[0] == '{':
		st, obj, err := wire.DecodeJSON(t)
		if err != nil {
			return nil, err
		}
		return &answer{format: wire.FormatJSON, status: st, object: obj}, nil
	case textStatusLine(t):
		// The body as sent: trimming it would take the tab off a last
		// pair whose value is empty.
		st, pairs, err := wire.DecodeText(body)
		if err != nil {
			return nil, err
		}
		return &answer{format: wire.FormatText, status: st, pairs: pairs}, nil
	}
	pairs := wire.DecodeForm(t)
	st, err := wire.FormStatus(pairs)
	if err != nil {
		return nil, err
	}
	rest := pairs[:0:0]
	for _, p := range pairs {
		if !wire.IsStatusKey(p.Name) {
			rest = append(rest, p)
		}
	}
	return &answer{format: wire.FormatForm, status: st, pairs: rest}, nil
}

// textStatusLine reports whether the first line of t starts with an integer
// followed by nothing, a space or a tab.
func textStatusLine(t []byte) bool {
	line, _, _ := bytes.Cut(t, []byte("\n"))
	line = bytes.TrimSpace(line)
	if i := bytes.IndexAny(line, " \t"); i >= 0 {
		line = line[:i]
	}
	_, err := strconv.Atoi(string(line))
	return err == nil
}

// decodeAddressList reads the list from the text keys (domain_name,
// whois_email, levelN_email) or the JSON members (domainName, whoisEmail,
// levelNEmails, dnsTxtEmails, caaEmails, warnings). Unknown keys are
// ignored, and so are WHOIS entries of "none".
func decodeAddressList(a *answer) GetDCVEmailAddressListResponse {
	var r GetDCVEmailAddressListResponse
	levels := map[int][]string{}
	addWhois := func(v string) {
		if v != "" && !strings.EqualFold(v, "none") {
			r.WhoisEmails = append(r.WhoisEmails, v)
		}
	}
	for _, p := range a.pairs {
		key := strings.ToLower(p.Name)
		switch {
		case key == "domain_name" || key == "domainname":
			r.DomainName = p.Value
		case key == "whois_email":
			addWhois(p.Value)
		case key == "dns_txt_email":
			r.DNSTXTEmails = append(r.DNSTXTEmails, p.Value)
		case key == "caa_email":
			r.CAAEmails = append(r.CAAEmails, p.Value)
		case key == "warning":
			r.Warnings = append(r.Warnings, p.Value)
		default:
			if n, ok := levelOf(key, "_email"); ok && p.Value != "" {
				levels[n] = append(levels[n], p.Value)
			}
		}
	}
	for _, k := range sortedKeys(a.object) {
		v := a.object[k]
		key := strings.ToLower(k)
		switch key {
		case "domainname", "domain_name":
			r.DomainName = wire.JSONString(v)
		case "whoisemail", "whoisemails":
			for _, e := range stringList(v) {
				addWhois(e)
			}
		case "dnstxtemails":
			r.DNSTXTEmails = append(r.DNSTXTEmails, stringList(v)...)
		case "caaemails":
			r.CAAEmails = append(r.CAAEmails, stringList(v)...)
		case "warnings":
			r.Warnings = append(r.Warnings, stringList(v)...)
		default:
			n, ok := levelOf(key, "emails")
			if !ok {
				n, ok = levelOf(key, "email")
			}
			if ok {
				levels[n] = append(levels[n], stringList(v)...)
			}
		}
	}
	for n, emails := range levels {
		if len(emails) > 0 {
			r.Levels = append(r.Levels, LevelEmails{Level: n, Emails: emails})
		}
	}
	sort.Slice(r.Levels, func(i, j int) bool { return r.Levels[i].Level < r.Levels[j].Level })
	return r
}

// levelOf reads N from "levelN" + suffix (key already lowercased).
func levelOf(key, suffix string) (int, bool) {
	digits, ok := strings.CutPrefix(key, "level")
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, suffix)
	if !ok || digits == "" || len(digits) > 3 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || strings.HasPrefix(digits, "+") || strings.HasPrefix(digits, "-") {
		return 0, false
	}
	return n, true
}

// stringList reads a JSON array of strings (other elements by their JSON
// text), a single string, or null.
func stringList(raw json.RawMessage) []string {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		if s := wire.JSONString(raw); s != "" {
			return []string{s}
		}
		return nil
	}
	var out []string
	for _, e := range list {
		if s := wire.JSONString(e); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decodeDomainDetails reads indexed groups ("1_domainName", "1_dcvMethod",
// ...) from form pairs or from JSON members of the same names. A JSON
// answer may instead hold an array of objects with unindexed names
// ("domainName", ...); the JSON schema is dcvmail's own, since the
// vendor's is unpublished, so both shapes are read.
func decodeDomainDetails(a *answer) (GetMDCDomainDetailsResponse, error) {
	groups := map[int]*DomainDetail{}
	var errs []error
	set := func(d *DomainDetail, field, value string) {
		switch strings.ToLower(field) {
		case "domainname":
			d.DomainName = value
		case "dcvmethod":
			d.DCVMethod = value
		case "dcvstatus":
			d.DCVStatus = value
		case "dcvemailaddress":
			d.DCVEmailAddress = value
		case "lastsentat":
			t, err := parseTime(field, value)
			d.LastSentAt = t
			errs = append(errs, err)
		case "validatedat":
			t, err := parseTime(field, value)
			d.ValidatedAt = t
			errs = append(errs, err)
		}
	}
	indexed := func(name, value string) bool {
		idx, field, ok := strings.Cut(name, "_")
		if !ok || idx == "" || len(idx) > 6 || strings.ContainsAny(idx, "+-") {
			return false
		}
		n, err := strconv.Atoi(idx)
		if err != nil || n < 0 {
			return false
		}
		d := groups[n]
		if d == nil {
			d = &DomainDetail{}
			groups[n] = d
		}
		set(d, field, value)
		return true
	}
	for _, p := range a.pairs {
		indexed(p.Name, p.Value)
	}
	var listed []DomainDetail
	for _, k := range sortedKeys(a.object) {
		v := a.object[k]
		if indexed(k, wire.JSONString(v)) {
			continue
		}
		var objs []map[string]json.RawMessage
		if json.Unmarshal(v, &objs) != nil {
			continue
		}
		for _, o := range objs {
			var d DomainDetail
			for _, f := range sortedKeys(o) {
				set(&d, f, wire.JSONString(o[f]))
			}
			if d.DomainName != "" {
				listed = append(listed, d)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return GetMDCDomainDetailsResponse{}, err
	}
	idx := make([]int, 0, len(groups))
	for n := range groups {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	r := GetMDCDomainDetailsResponse{Domains: make([]DomainDetail, 0, len(idx)+len(listed))}
	for _, n := range idx {
		r.Domains = append(r.Domains, *groups[n])
	}
	r.Domains = append(r.Domains, listed...)
	return r, nil
}

// parseTime reads RFC 3339, the contract's format; the vendor's is
// unpublished, so a plain "2006-01-02 15:04:05" is also read, as UTC. The
// empty string is the zero time.
func parseTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	// The value stays out of the message, which must not quote the server.
	return time.Time{}, fmt.Errorf("%s is not an RFC 3339 time", field)
}
