package mailbox

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/net/html"
)

// parsed is what the mailbox reads from a message's RFC 5322 source, the
// way Mailpit reads it (with enmime): so that a message captured here and
// the same message delivered to Mailpit give the same answers.
type parsed struct {
	Header     netmail.Header
	From       *netmail.Address
	To, Cc     []*netmail.Address
	Bcc        []*netmail.Address
	ReplyTo    []*netmail.Address
	Subject    string
	MessageID  string
	ReturnPath string
	Text, HTML string
}

var wordDecoder = &mime.WordDecoder{}

// parseRaw reads raw. A source it cannot read still yields a value: the
// headers it could read and empty bodies (the stored Text and HTML fill
// in, see message).
func parseRaw(raw string) (parsed, bool) {
	p := parsed{Header: netmail.Header{}, To: []*netmail.Address{}, Cc: []*netmail.Address{},
		Bcc: []*netmail.Address{}, ReplyTo: []*netmail.Address{}}
	m, err := netmail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return p, false
	}
	p.Header = m.Header
	p.Subject = decodeHeader(m.Header.Get("Subject"))
	p.MessageID = strings.Trim(m.Header.Get("Message-ID"), "<>")
	if from := addresses(m.Header, "From"); len(from) > 0 {
		p.From = from[0]
	} else if v := m.Header.Get("From"); v != "" {
		p.From = &netmail.Address{Name: decodeHeader(v)}
	}
	p.To, p.Cc, p.Bcc, p.ReplyTo = addresses(m.Header, "To"), addresses(m.Header, "Cc"), addresses(m.Header, "Bcc"), addresses(m.Header, "Reply-To")
	p.ReturnPath = strings.Trim(m.Header.Get("Return-Path"), "<>")
	if p.ReturnPath == "" && p.From != nil {
		p.ReturnPath = p.From.Address
	}
	ok := readPart(m.Header, m.Body, &p)
	return p, ok
}

func decodeHeader(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// addresses is a header's address list; never nil, as Mailpit's.
func addresses(h netmail.Header, key string) []*netmail.Address {
	list, err := h.AddressList(key)
	if err != nil || list == nil {
		return []*netmail.Address{}
	}
	return list
}

// header is what net/mail's and a MIME part's headers have in common.
type header interface{ Get(string) string }

// readPart walks a MIME entity for its first text/plain and text/html
// parts (not attachments), decoding their transfer encoding.
func readPart(h header, body io.Reader, p *parsed) bool {
	ctype := h.Get("Content-Type")
	if ctype == "" {
		ctype = "text/plain"
	}
	media, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return false
	}
	if strings.HasPrefix(media, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return true
			}
			if err != nil {
				return false
			}
			if !readPart(part.Header, part, p) {
				return false
			}
		}
	}
	if disp, _, _ := mime.ParseMediaType(h.Get("Content-Disposition")); disp == "attachment" {
		return true
	}
	b, err := io.ReadAll(decoder(h.Get("Content-Transfer-Encoding"), body))
	if err != nil {
		return false
	}
	switch {
	case media == "text/plain" && p.Text == "":
		p.Text = string(b)
	case media == "text/html" && p.HTML == "":
		p.HTML = string(b)
	}
	return true
}

func decoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &newlineStripper{r})
	}
	return r
}

// newlineStripper drops CR and LF, which base64 bodies carry between lines.
type newlineStripper struct{ r io.Reader }

func (n *newlineStripper) Read(p []byte) (int, error) {
	c, err := n.r.Read(p)
	out := p[:0]
	for _, b := range p[:c] {
		if b != '\r' && b != '\n' {
			out = append(out, b)
		}
	}
	return len(out), err
}

// The snippet follows Mailpit's (internal/tools/snippets.go and
// internal/html2text in Mailpit v1.33): the HTML's text when there is HTML,
// else the text with whitespace collapsed, cut at 200 bytes on a character
// boundary, with "..." when cut.
const snippetLimit = 200

var (
	spaceRe     = regexp.MustCompile(`\s+`)
	blockEndRe  = regexp.MustCompile(`(?mi)<\/(div|p|td|th|h[1-6]|ul|ol|li|address|article|aside|blockquote|dl|dt|footer|header|hr|main|nav|pre|table|thead|tfoot|video)><`)
	brRe        = regexp.MustCompile(`(?mi)<(br /|br)>`)
	imgRe       = regexp.MustCompile(`(?mi)<(img)`)
	skippedTags = map[string]bool{"script": true, "title": true, "head": true, "link": true, "meta": true, "style": true, "noscript": true}
)

func snippet(text, htmlBody string) string {
	text, htmlBody = strings.TrimSpace(text), strings.TrimSpace(htmlBody)
	if htmlBody != "" {
		if s, ok := htmlText(htmlBody); ok {
			return cut(s)
		}
	}
	if text != "" {
		text = strings.ReplaceAll(text, "\uFEFF", " ")
		return cut(strings.TrimSpace(spaceRe.ReplaceAllString(text, " ")))
	}
	return ""
}

// htmlText is the text of an HTML document, whitespace collapsed.
func htmlText(h string) (string, bool) {
	h = blockEndRe.ReplaceAllString(h, "</$1> <")
	h = brRe.ReplaceAllString(h, " ")
	h = imgRe.ReplaceAllString(h, " <$1")
	doc, err := html.Parse(strings.NewReader(h))
	if err != nil {
		return "", false
	}
	var b bytes.Buffer
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if !skippedTags[c.Data] {
				walk(c)
			}
		}
	}
	walk(doc)
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, strings.ReplaceAll(b.String(), "\uFEFF", " "))
	return strings.TrimSpace(spaceRe.ReplaceAllString(s, " ")), true
}

func cut(s string) string {
	if len(s) <= snippetLimit {
		return s
	}
	n := snippetLimit
	for n > 0 && s[n-1]&0xc0 == 0x80 {
		n--
	}
	if n > 0 && s[n-1]&0xc0 == 0xc0 {
		n--
	}
	return s[:n] + "..."
}
