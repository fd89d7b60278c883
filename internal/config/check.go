package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// CheckCommon checks --db before anything opens it: a path where a URL is
// wanted gets the URL to write instead. Messages name the flag or the
// environment variable the value came from (src).
func CheckCommon(c Common, src Sources) error {
	db := c.DB
	switch {
	case db == "", strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return nil
	case strings.HasPrefix(db, "sqlite://"):
		if strings.TrimPrefix(db, "sqlite://") == "" {
			return fmt.Errorf("%s %q names no file: write sqlite://FILE", src.Name("db"), db)
		}
		return nil
	case strings.HasPrefix(db, "sqlite:"), strings.HasPrefix(db, "file:"):
		_, path, _ := strings.Cut(db, ":")
		return fmt.Errorf("%s %q: write the SQLite file as sqlite://%s", src.Name("db"), db, strings.TrimPrefix(path, "//"))
	case strings.HasPrefix(db, "postgres:"), strings.HasPrefix(db, "host="):
		return fmt.Errorf("%s %q: write PostgreSQL as a URL, postgres://USER:PASSWORD@HOST:5432/DATABASE", src.Name("db"), db)
	case !strings.Contains(db, "://"):
		return fmt.Errorf("%s %q is not a database URL: for a SQLite file write sqlite://%s (or give its directory with --data)", src.Name("db"), db, db)
	}
	return fmt.Errorf("%s %q: want sqlite://FILE or postgres://USER:PASSWORD@HOST/DATABASE", src.Name("db"), db)
}

// CheckServe checks the values of serve's flags that would otherwise fail
// late with a message about something else, or never: listen addresses,
// resolvers, the sender address, URLs and the choices of a few flags.
func CheckServe(c Serve, src Sources) error {
	if err := CheckCommon(c.Common, src); err != nil {
		return err
	}
	for name, addr := range map[string]string{"listen": c.Listen, "http-listen": c.HTTPListen, "admin-listen": c.AdminListen} {
		if addr == "" && name != "listen" {
			continue
		}
		if err := checkHostPort(addr); err != nil {
			return fmt.Errorf("%s %q: %v; want HOST:PORT, e.g. 127.0.0.1:8443 (port 0 picks a free one)", src.Name(name), addr, err)
		}
	}
	if err := CheckResolvers(c.DNSResolvers, src); err != nil {
		return err
	}
	if err := CheckMailbox(c.MailFrom); err != nil {
		return fmt.Errorf("%s %q: %v", src.Name("mail-from"), c.MailFrom, err)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%s %q: want an absolute URL, e.g. https://dcv.example.com", src.Name("public-url"), c.PublicURL)
		}
	}
	if c.SMTP != "" {
		u, err := url.Parse(c.SMTP)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
			return fmt.Errorf("%s: want smtp://USER:PASSWORD@HOST:587 or smtps://USER:PASSWORD@HOST:465", src.Name("smtp"))
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, aerr := netip.ParseAddr(p); aerr != nil {
				return fmt.Errorf("%s %q: want a CIDR such as 10.0.0.0/8, or an address", src.Name("trusted-proxy"), p)
			}
		}
	}
	switch c.DNSRequireAD {
	case "true", "false", "auto":
	default:
		return fmt.Errorf("%s %q: want true, false or auto", src.Name("dns-require-ad"), c.DNSRequireAD)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("%s %q: want text or json", src.Name("log-format"), c.LogFormat)
	}
	return nil
}

// CheckMailbox checks that s is one mail address, a@b, optionally with a
// display name ("DCV <dcv@example.com>").
func CheckMailbox(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return fmt.Errorf("not a mail address (%v)", strings.TrimPrefix(err.Error(), "mail: "))
	}
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok || local == "" || domain == "" {
		return fmt.Errorf("not a mail address; want NAME@DOMAIN")
	}
	return nil
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%v", strings.TrimPrefix(err.Error(), "address "+addr+": "))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("host %q is not a host name or address", host)
	}
	return nil
}

// CheckResolvers checks --dns-resolver values: HOST:PORT, or "none".
func CheckResolvers(rs List, src Sources) error {
	for _, r := range rs {
		if r == "none" {
			continue
		}
		if err := checkHostPort(r); err != nil {
			hint := ""
			if _, perr := netip.ParseAddr(r); perr == nil {
				hint = fmt.Sprintf(" (%s)", net.JoinHostPort(r, "53"))
			}
			return fmt.Errorf("%s %q: %v; want the HOST:PORT of a DNS resolver%s, or \"none\"", src.Name("dns-resolver"), r, err, hint)
		}
	}
	return nil
}
