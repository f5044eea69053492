package sshremote

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Destination is a host as given on the command line: [user@]host[:port],
// ssh://[user@]host[:port], or [user@][v6addr]:port.
type Destination struct {
	User string
	Host string
	// Port is 0 when not given (the config's, else 22).
	Port int
}

// ParseDestination reads a destination; the host must not be empty or hold
// blanks, control characters, `/`, `@` or a leading `-`.
func ParseDestination(s string) (Destination, error) {
	orig := s
	var d Destination
	fail := func(msg string) (Destination, error) {
		return Destination{}, fmt.Errorf("host %s: %s", quote(orig), msg)
	}
	uri := false
	if rest, ok := strings.CutPrefix(s, "ssh://"); ok {
		s, uri = strings.TrimSuffix(rest, "/"), true
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		d.User, s = s[:i], s[i+1:]
		if d.User == "" {
			return fail("empty user name")
		}
		if err := checkName(d.User); err != nil {
			return fail("user: " + err.Error())
		}
	}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return fail("missing ]")
		}
		host, port = s[1:end], s[end+1:]
		if port != "" {
			if !strings.HasPrefix(port, ":") {
				return fail("unexpected text after ]")
			}
			port = port[1:]
			if port == "" {
				return fail("empty port")
			}
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
		if port == "" {
			return fail("empty port")
		}
	case strings.Count(s, ":") > 1 && uri:
		return fail("an IPv6 address must be in brackets")
	}
	if host == "" {
		return fail("empty host name")
	}
	if err := checkName(host); err != nil {
		return fail(err.Error())
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return fail("not an IPv6 address")
	}
	d.Host = host
	if port != "" {
		p, err := parsePort(port)
		if err != nil {
			return fail(err.Error())
		}
		d.Port = p
	}
	return d, nil
}

func checkName(s string) error {
	if strings.HasPrefix(s, "-") {
		return errors.New("must not start with -")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '/' || r == '@' || r == '\\' || r == '\'' || r == '"' {
			return fmt.Errorf("holds %q", r)
		}
	}
	return nil
}

// String renders the destination as it was meant: [user@]host[:port],
// IPv6 addresses in brackets when a port follows.
func (d Destination) String() string {
	h := d.Host
	if d.Port != 0 {
		h = net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
	}
	if d.User != "" {
		return d.User + "@" + h
	}
	return h
}
