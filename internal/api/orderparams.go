package api

import (
	"strconv"
	"strings"

	"github.com/dcvmail/dcvmail/internal/csr"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// Parameter tables of the order calls (docs/api.md, orders). Their answers
// are newline text without responseFormat (or with 0), URL-encoded with 1.

var newlineFormats = map[string]wire.Format{"0": wire.FormatText, "1": wire.FormatForm}

var orderResponseFormat = param{name: "responseFormat", validate: func(v string, _ map[string]string) (string, bool) {
	return v, v == "0" || v == "1"
}}

// subjectParams are the subject and OV/EV fields: accepted and recorded by
// the vendor; dcvmail checks their length and ignores them (the
// certificate's subject comes from the CSR).
func subjectParams() []param {
	var out []param
	for _, n := range []string{"emailAddress", "organizationName", "organizationalUnitName", "postOfficeBox",
		"streetAddress1", "streetAddress2", "streetAddress3", "localityName", "stateOrProvinceName", "postalCode",
		"companyNumber", "dunsNumber", "appRepEmailAddress", "appRepForename", "appRepSurname", "appRepTelephone",
		"joiLocalityName", "joiStateOrProvinceName"} {
		out = append(out, param{name: n, max: 256})
	}
	for _, n := range []string{"countryName", "joiCountryName"} {
		out = append(out, param{name: n, max: 2, validate: twoLetters})
	}
	for _, n := range []string{"isAppRepValidated", "isCallbackCompleted"} {
		out = append(out, param{name: n, kind: yesNo})
	}
	return out
}

var applyEndpoint = endpoint{
	params: append([]param{
		loginName,
		loginPassword,
		{name: "product", required: true, kind: integer},
		{name: "days", kind: integer},
		{name: "years", kind: integer},
		{name: "serverSoftware", required: true, validate: serverSoftware},
		{name: "csr", required: true, max: csr.MaxLen, multiline: true},
		{name: "domainNames", multiline: true, validate: nameList},
		{name: "primaryDomainName", max: 255, validate: certName},
		{name: "maxSubjectCNs", kind: integer},
		{name: "dcvMethod", max: 32, validate: func(v string, _ map[string]string) (string, bool) { return method(v) }},
		{name: "dcvEmailAddress", max: 255, kind: mailbox},
		{name: "dcvEmailAddresses", validate: addressOrMethodList},
		{name: "isCustomerValidated", kind: yesNo},
		{name: "showCertificateID", kind: yesNo},
		{name: "showCertificateState", kind: yesNo},
		{name: "uniqueValue", max: csr.MaxUniqueValueLen, validate: func(v string, _ map[string]string) (string, bool) {
			return v, csr.ValidUniqueValue(v)
		}},
		{name: "test", kind: yesNo},
		{name: "prioritiseCSRValues", kind: yesNo},
		{name: "foreignOrderNumber", max: 64},
		{name: "caCertificateID", kind: integer},
		orderResponseFormat,
	}, subjectParams()...),
	defaultFormat: wire.FormatText,
	formats:       newlineFormats,
	extra:         countryError,
	writes:        true,
}

var collectEndpoint = endpoint{
	params: []param{
		loginName,
		loginPassword,
		{name: "orderNumber", requiredIf: givenNone("certificateID", "baseOrderNumber"), kind: integer},
		{name: "certificateID", kind: integer},
		{name: "baseOrderNumber", kind: integer},
		{name: "queryType", required: true, validate: digitIn("0123")},
		{name: "responseType", validate: digitIn("0123")},
		{name: "responseEncoding", validate: digitIn("01")},
		{name: "showValidityPeriod", kind: yesNo},
		{name: "showFQDN", kind: yesNo},
		{name: "showExtStatus", kind: yesNo},
		{name: "showStatusDetails", kind: yesNo},
		{name: "showMDCDomainDetails", kind: yesNo},
		{name: "showMDCDomainDetails2", kind: yesNo},
		{name: "behaviourVersion", validate: digitIn("0123456789")},
		orderResponseFormat,
	},
	defaultFormat: wire.FormatText,
	formats:       newlineFormats,
	extra:         countryError,
}

var revokeEndpoint = endpoint{
	params: []param{
		loginName,
		loginPassword,
		{name: "orderNumber", requiredIf: givenNone("certificateID", "serialNumber"), kind: integer},
		{name: "certificateID", kind: integer},
		{name: "serialNumber", max: 128, validate: func(v string, _ map[string]string) (string, bool) { return dcv.NormalizeSerial(v) }},
		{name: "revocationReason", max: 1024},
		{name: "codeReason", validate: digitIn("01345")},
		{name: "test", kind: yesNo},
		orderResponseFormat,
	},
	defaultFormat: wire.FormatText,
	formats:       newlineFormats,
	extra:         countryError,
	writes:        true,
}

// serverSoftware is -1 or 1 to 36.
func serverSoftware(v string, _ map[string]string) (string, bool) {
	if v == "-1" {
		return v, true
	}
	n, err := strconv.Atoi(v)
	return strconv.Itoa(n), err == nil && n >= 1 && n <= 36 && !strings.HasPrefix(v, "+")
}

// digitIn accepts one digit of set.
func digitIn(set string) func(string, map[string]string) (string, bool) {
	return func(v string, _ map[string]string) (string, bool) {
		return v, len(v) == 1 && strings.Contains(set, v)
	}
}

// certName is one certificate name, normalized, "*." kept.
func certName(v string, _ map[string]string) (string, bool) {
	n, err := csr.NormalizeName(strings.TrimSpace(v))
	return n, err == nil
}

// nameList: names separated by commas or white space.
func nameList(v string, _ map[string]string) (string, bool) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' || r == '\n' })
	names, err := csr.NormalizeNames(fields)
	return strings.Join(names, " "), err == nil && len(names) > 0
}

// addressOrMethodList: entries separated by commas, each a mailbox or a
// DCV method keyword (HTTPCSRHASH, HTTPSCSRHASH, CNAMECSRHASH, or with
// underscores).
func addressOrMethodList(v string, _ map[string]string) (string, bool) {
	entries := strings.Split(v, ",")
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if m, ok := method(strings.ReplaceAll(strings.ReplaceAll(strings.ToUpper(e), "CSRHASH", "_CSR_HASH"), "__", "_")); ok && m != "EMAIL" {
			entries[i] = m
			continue
		}
		mb, ok := (&param{kind: mailbox}).check(e, nil)
		if !ok {
			return "", false
		}
		entries[i] = mb
	}
	return strings.Join(entries, ","), true
}

// twoLetters is the syntax of a country code; whether ISO 3166 knows it is
// checked apart (-7).
func twoLetters(v string, _ map[string]string) (string, bool) {
	u := strings.ToUpper(v)
	return u, len(u) == 2 && u[0] >= 'A' && u[0] <= 'Z' && u[1] >= 'A' && u[1] <= 'Z'
}

// iso3166 lists the ISO 3166-1 alpha-2 codes assigned.
const iso3166 = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
	"MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
	"UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"

// countryError is -7 for a country code ISO 3166 does not assign.
func countryError(a args) *wire.Error {
	for _, n := range []string{"countryName", "joiCountryName"} {
		if c := a.str(n); c != "" && !strings.Contains(iso3166, c) {
			return &wire.Error{Code: -7, Item: n, Text: "'" + strings.ToLower(c) + "' is not a valid ISO-3166 country!"}
		}
	}
	return nil
}
