package fetch

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// netrcEntry is one machine (or the default) of a .netrc file.
type netrcEntry struct {
	machine  string // "" for default
	login    string
	password string
}

// netrcPath is $NETRC or ~/.netrc.
func netrcPath() string {
	if p := os.Getenv("NETRC"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".netrc")
}

// readNetrc reads and parses a .netrc file; a missing file has no entries.
func readNetrc(path string) ([]netrcEntry, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseNetrc(string(data)), nil
}

// parseNetrc parses .netrc text as curl and Python's netrc module do:
// whitespace-separated tokens (double-quoted tokens may contain spaces),
// "machine NAME" or "default" starting an entry, "login", "password" and
// "account" inside one, and "macdef NAME" skipping to the next blank line.
func parseNetrc(text string) []netrcEntry {
	var out []netrcEntry
	var cur *netrcEntry
	toks := netrcTokens(text)
	for i := 0; i < len(toks); i++ {
		next := func() string {
			if i+1 < len(toks) {
				i++
				return toks[i].text
			}
			return ""
		}
		switch toks[i].text {
		case "machine":
			out = append(out, netrcEntry{machine: strings.ToLower(next())})
			cur = &out[len(out)-1]
		case "default":
			out = append(out, netrcEntry{})
			cur = &out[len(out)-1]
		case "login":
			if v := next(); cur != nil {
				cur.login = v
			}
		case "password":
			if v := next(); cur != nil {
				cur.password = v
			}
		case "account":
			next()
		case "macdef":
			next()
			// A macro runs to the next empty line.
			limit := len(text)
			if end := strings.Index(text[toks[i].end:], "\n\n"); end >= 0 {
				limit = toks[i].end + end
			}
			for i+1 < len(toks) && toks[i+1].start < limit {
				i++
			}
			cur = nil
		}
	}
	return out
}

type netrcToken struct {
	text       string
	start, end int
}

func netrcTokens(text string) []netrcToken {
	var out []netrcToken
	for i := 0; i < len(text); {
		switch c := text[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' && (i == 0 || text[i-1] == '\n'):
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '"':
			start := i
			var b strings.Builder
			for i++; i < len(text) && text[i] != '"'; i++ {
				if text[i] == '\\' && i+1 < len(text) {
					i++
				}
				b.WriteByte(text[i])
			}
			i++
			out = append(out, netrcToken{b.String(), start, min(i, len(text))})
		default:
			start := i
			for i < len(text) && !strings.ContainsRune(" \t\n\r", rune(text[i])) {
				i++
			}
			out = append(out, netrcToken{text[start:i], start, i})
		}
	}
	return out
}

// lookup returns the login and password for host: its machine entry, or
// the default entry.
func netrcLookup(entries []netrcEntry, host string) (login, password string, ok bool) {
	host = strings.ToLower(host)
	for _, e := range entries {
		if e.machine == host {
			return e.login, e.password, true
		}
	}
	for _, e := range entries {
		if e.machine == "" {
			return e.login, e.password, true
		}
	}
	return "", "", false
}
