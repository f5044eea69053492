package sshremote

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The ssh_config(5) subset pipbake push honours. Keywords are read as
// OpenSSH reads them (case-insensitive, `Keyword value` or
// `Keyword=value`, double or single quotes, `#` comments; for each keyword
// the first value obtained wins, IdentityFile accumulates), in `Host`
// blocks (patterns with `*`, `?` and `!` negation) and `Match` blocks of
// the criteria `all`, `host` and `originalhost`; other Match criteria make
// their block inactive, with a warning. `Include` reads files (globs;
// relative paths under ~/.ssh) up to 16 deep. Keywords outside the list
// below are ignored (pipbake never forwards the agent, X11 or ports).
//
// Honoured: HostName, User, Port, IdentityFile, IdentitiesOnly,
// IdentityAgent, UserKnownHostsFile, GlobalKnownHostsFile,
// StrictHostKeyChecking, ProxyJump, ConnectTimeout, ServerAliveInterval,
// ServerAliveCountMax.

// Limits on what a config may hold.
const (
	// MaxConfigBytes is the largest config file read.
	MaxConfigBytes = 1 << 20
	// MaxIncludeDepth is how deep Include may nest (OpenSSH's limit).
	MaxIncludeDepth = 16
	// MaxIncludedFiles bounds the files one config may pull in.
	MaxIncludedFiles = 256
	// maxProblems is how many problems an error lists.
	maxProblems = 20
)

// Config is a parsed ssh_config file, Includes resolved.
type Config struct {
	entries []entry
}

// entry is one meaningful line.
type entry struct {
	file string
	line int
	key  string // lower case
	args []string
	// files are an Include's files, in order, each read from the state the
	// Include was in.
	files [][]entry
}

// Env is what token expansion needs to know about this side.
type Env struct {
	Home      string // %d and ~
	LocalUser string // %u, and User's default
}

// HostConfig is what the config says for one destination.
type HostConfig struct {
	// Alias is the name as given (what Host patterns match).
	Alias string
	// HostName is the name or address to connect to (default Alias).
	HostName string
	User     string
	Port     int
	// IdentityFiles are private keys to try, tokens and ~ expanded.
	IdentityFiles  []string
	IdentitiesOnly bool
	// IdentityAgent is "" (SSH_AUTH_SOCK), "none" or a socket path.
	IdentityAgent         string
	UserKnownHostsFiles   []string
	GlobalKnownHostsFiles []string
	// StrictHostKeyChecking is "yes" or "accept-new" ("no", "off" and
	// "ask" are mapped: pipbake never accepts a changed key and never
	// prompts).
	StrictHostKeyChecking string
	// ProxyJump lists the jump hosts in order (empty: direct).
	ProxyJump           []string
	ConnectTimeout      time.Duration
	ServerAliveInterval time.Duration
	ServerAliveCountMax int
	// Warnings are settings seen but not honoured, with file:line.
	Warnings []string
}

// ParseConfig parses an ssh_config file's bytes; name names it in
// messages. Include lines are not followed (LoadConfig follows them).
func ParseConfig(name string, data []byte) (*Config, error) {
	es, err := parseFile(name, data)
	if err != nil {
		return nil, err
	}
	return &Config{entries: es}, nil
}

// LoadConfig reads an ssh_config file and the files its Include lines
// name (relative ones under ~/.ssh, as OpenSSH reads a user's config). A
// missing file is an empty config.
func LoadConfig(path string, env Env) (*Config, error) {
	l := &loader{home: env.Home, dir: filepath.Join(env.Home, ".ssh")}
	es, err := l.load(path, 0)
	if errors.Is(err, os.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &Config{entries: es}, nil
}

type loader struct {
	home  string
	dir   string
	files int
}

func (l *loader) load(path string, depth int) ([]entry, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	es, err := parseFile(path, data)
	if err != nil {
		return nil, err
	}
	for i := range es {
		if es[i].key != "include" {
			continue
		}
		if depth+1 > MaxIncludeDepth {
			return nil, fmt.Errorf("%s:%d: Include nested more than %d deep", es[i].file, es[i].line, MaxIncludeDepth)
		}
		for _, pat := range es[i].args {
			pat = expandTilde(pat, l.home)
			if !filepath.IsAbs(pat) {
				pat = filepath.Join(l.dir, pat)
			}
			matches, err := filepath.Glob(pat)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: Include %q: %w", es[i].file, es[i].line, pat, err)
			}
			sort.Strings(matches)
			for _, m := range matches {
				if l.files++; l.files > MaxIncludedFiles {
					return nil, fmt.Errorf("%s:%d: Include: more than %d files included", es[i].file, es[i].line, MaxIncludedFiles)
				}
				kids, err := l.load(m, depth+1)
				if err != nil {
					return nil, err
				}
				es[i].files = append(es[i].files, kids)
			}
		}
	}
	return es, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read ssh config: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read ssh config: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("read ssh config %s: is a folder", path)
	}
	buf := make([]byte, MaxConfigBytes+1)
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil {
			break
		}
	}
	if n > MaxConfigBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxConfigBytes)
	}
	return buf[:n], nil
}

// parseFile splits a file into entries, checking every value it can check
// without knowing the destination; every problem is reported with its line.
func parseFile(name string, data []byte) ([]entry, error) {
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxConfigBytes)
	}
	var out []entry
	var problems []string
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		ln := i + 1
		key, args, err := splitLine(raw)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: %v", name, ln, err))
			continue
		}
		if key == "" {
			continue
		}
		e := entry{file: name, line: ln, key: strings.ToLower(key), args: args}
		if err := checkEntry(e); err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: %s: %v", name, ln, key, err))
			continue
		}
		out = append(out, e)
	}
	if len(problems) > 0 {
		if len(problems) > maxProblems {
			problems = append(problems[:maxProblems], fmt.Sprintf("%s: and %d more problems", name, len(problems)-maxProblems))
		}
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return out, nil
}

// splitLine reads a keyword and its arguments. A blank or comment line
// gives "".
func splitLine(s string) (string, []string, error) {
	s = strings.TrimRight(s, "\r")
	s = strings.TrimLeft(s, " \t")
	if s == "" || s[0] == '#' {
		return "", nil, nil
	}
	// the keyword ends at whitespace or '='
	end := strings.IndexAny(s, " \t=")
	if end < 0 {
		end = len(s)
	}
	key := s[:end]
	if !validKeyword(key) {
		return "", nil, fmt.Errorf("%s is not a keyword", quote(key))
	}
	rest := strings.TrimLeft(s[end:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	args, err := splitArgs(rest)
	if err != nil {
		return "", nil, err
	}
	return key, args, nil
}

func validKeyword(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// splitArgs splits arguments on blanks, honouring double and single quotes
// and backslash escapes of quotes, backslashes and blanks; an unquoted `#`
// starting an argument ends the line.
func splitArgs(s string) ([]string, error) {
	var args []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" || s[0] == '#' {
			return args, nil
		}
		var b strings.Builder
		i := 0
		var q byte
		for i < len(s) {
			c := s[i]
			switch {
			case q == 0 && (c == ' ' || c == '\t'):
				goto done
			case q == 0 && (c == '"' || c == '\''):
				q = c
			case q != 0 && c == q:
				q = 0
			case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\'' || s[i+1] == '\\' || (q == 0 && (s[i+1] == ' ' || s[i+1] == '\t'))):
				i++
				b.WriteByte(s[i])
			default:
				b.WriteByte(c)
			}
			i++
		}
	done:
		if q != 0 {
			return nil, errors.New("unterminated quote")
		}
		args = append(args, b.String())
		s = s[i:]
	}
}

// checkEntry validates the values of the keywords pipbake honours.
func checkEntry(e entry) error {
	one := func() error {
		if len(e.args) != 1 {
			return fmt.Errorf("takes one value, got %d", len(e.args))
		}
		return nil
	}
	switch e.key {
	case "host":
		if len(e.args) == 0 {
			return errors.New("needs at least one pattern")
		}
	case "match":
		if len(e.args) == 0 {
			return errors.New("needs criteria")
		}
	case "include":
		if len(e.args) == 0 {
			return errors.New("needs a file")
		}
	case "hostname", "user", "identityfile", "identityagent":
		if err := one(); err != nil {
			return err
		}
		if e.args[0] == "" {
			return errors.New("must not be empty")
		}
		if strings.ContainsRune(e.args[0], 0) {
			return errors.New("must not hold a NUL byte")
		}
		if e.key != "user" {
			if _, err := expandTokens(e.args[0], tokenSet(e.key), tokens{}); err != nil {
				return err
			}
		}
	case "port":
		if err := one(); err != nil {
			return err
		}
		if _, err := parsePort(e.args[0]); err != nil {
			return err
		}
	case "userknownhostsfile", "globalknownhostsfile":
		if len(e.args) == 0 {
			return errors.New("needs at least one file")
		}
		for _, a := range e.args {
			if _, err := expandTokens(a, tokenSet(e.key), tokens{}); err != nil {
				return err
			}
		}
	case "stricthostkeychecking":
		if err := one(); err != nil {
			return err
		}
		if _, ok := strictValues[strings.ToLower(e.args[0])]; !ok {
			return fmt.Errorf("%s is not yes, accept-new, no, off or ask", quote(e.args[0]))
		}
	case "identitiesonly":
		if err := one(); err != nil {
			return err
		}
		if _, err := parseYesNo(e.args[0]); err != nil {
			return err
		}
	case "proxyjump":
		if err := one(); err != nil {
			return err
		}
		if strings.EqualFold(e.args[0], "none") {
			return nil
		}
		for _, hop := range strings.Split(e.args[0], ",") {
			if _, err := ParseDestination(hop); err != nil {
				return err
			}
		}
	case "connecttimeout", "serveraliveinterval", "serveralivecountmax":
		if err := one(); err != nil {
			return err
		}
		if n, err := strconv.Atoi(e.args[0]); err != nil || n < 0 || n > 1<<20 {
			return fmt.Errorf("%s is not a number of seconds", quote(e.args[0]))
		}
	}
	return nil
}

var strictValues = map[string]string{
	"yes": "yes", "true": "yes", "ask": "yes",
	"accept-new": "accept-new",
	"no":         "accept-new", "off": "accept-new", "false": "accept-new",
}

func parseYesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("%s is not yes or no", quote(s))
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("port %s is not a number from 1 to 65535", quote(s))
	}
	return n, nil
}

// tokens are the values of % tokens for one destination.
type tokens struct {
	home, localUser, host, alias, remoteUser string
	port                                     int
}

// tokenSet is which % tokens a keyword accepts.
func tokenSet(key string) string {
	switch key {
	case "hostname":
		return "h"
	case "identityfile", "identityagent", "userknownhostsfile":
		return "dhnpru"
	}
	return ""
}

// expandTokens replaces %d %h %n %p %r %u and %% (those allowed) in s.
func expandTokens(s, allowed string, t tokens) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("ends with a lone %")
		}
		i++
		tok := s[i]
		if tok == '%' {
			b.WriteByte('%')
			continue
		}
		if !strings.ContainsRune(allowed, rune(tok)) {
			return "", fmt.Errorf("token %%%c is not supported here", tok)
		}
		switch tok {
		case 'd':
			b.WriteString(t.home)
		case 'h':
			b.WriteString(t.host)
		case 'n':
			b.WriteString(t.alias)
		case 'p':
			b.WriteString(strconv.Itoa(t.port))
		case 'r':
			b.WriteString(t.remoteUser)
		case 'u':
			b.WriteString(t.localUser)
		}
	}
	return b.String(), nil
}

func expandTilde(p, home string) string {
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(home, p[2:])
	}
	return p
}

// matchPattern matches s against a pattern of `*` (any run) and `?` (one
// byte), case-insensitively, in linear time per backtrack point.
func matchPattern(s, pat string) bool {
	s, pat = strings.ToLower(s), strings.ToLower(pat)
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pat) && (pat[pi] == '?' || pat[pi] == s[si]):
			si++
			pi++
		case pi < len(pat) && pat[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}

// matchList is OpenSSH's pattern-list match: some positive pattern
// matches and no negated one does.
func matchList(s string, pats []string) bool {
	ok := false
	for _, p := range pats {
		if neg, isNeg := strings.CutPrefix(p, "!"); isNeg {
			if matchPattern(s, neg) {
				return false
			}
			continue
		}
		if matchPattern(s, p) {
			ok = true
		}
	}
	return ok
}

// Resolve returns the settings for alias (a host as given on the command
// line), with OpenSSH's defaults where the config is silent: port 22, the
// local user, ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts, strict host
// key checking.
func (c *Config) Resolve(alias string, env Env) *HostConfig {
	r := &resolver{alias: alias, seen: map[string]bool{}}
	if c != nil {
		r.walk(c.entries, true, false)
	}
	return r.finish(env)
}

type resolver struct {
	alias    string
	seen     map[string]bool // keywords set (first wins)
	vals     map[string][]string
	at       map[string]string // keyword -> file:line it came from
	idFiles  []string
	warnings []string
}

func (r *resolver) set(key string, e entry) {
	if r.seen[key] {
		return
	}
	r.seen[key] = true
	if r.vals == nil {
		r.vals, r.at = map[string][]string{}, map[string]string{}
	}
	r.vals[key] = e.args
	r.at[key] = fmt.Sprintf("%s:%d", e.file, e.line)
}

// walk applies entries; active is whether the current block applies,
// never forces every block inactive (an Include inside an inactive block).
func (r *resolver) walk(es []entry, active, never bool) {
	for _, e := range es {
		switch e.key {
		case "host":
			active = !never && matchList(r.alias, e.args)
			continue
		case "match":
			active = !never && r.match(e)
			continue
		case "include":
			// each included file starts active unless the Include is in
			// an inactive block; its Host and Match lines do not change
			// the including file's state
			for _, f := range e.files {
				r.walk(f, active, never || !active)
			}
			continue
		}
		if !active {
			continue
		}
		switch e.key {
		case "identityfile":
			if len(r.idFiles) < 100 {
				r.idFiles = append(r.idFiles, e.args[0])
			}
		case "hostname", "user", "port", "userknownhostsfile", "globalknownhostsfile", "stricthostkeychecking",
			"identitiesonly", "identityagent", "proxyjump", "connecttimeout", "serveraliveinterval", "serveralivecountmax":
			r.set(e.key, e)
		case "forwardagent":
			if len(e.args) > 0 && !strings.EqualFold(e.args[0], "no") {
				r.warn(e, "ForwardAgent is ignored: pipbake never forwards the agent")
			}
		case "proxycommand":
			r.warn(e, "ProxyCommand is not supported (use ProxyJump)")
		}
	}
}

func (r *resolver) warn(e entry, msg string) {
	if len(r.warnings) < maxProblems {
		r.warnings = append(r.warnings, fmt.Sprintf("%s:%d: %s", e.file, e.line, msg))
	}
}

// match evaluates a Match line: all, host, originalhost (each may be
// negated with !); anything else makes the block inactive.
func (r *resolver) match(e entry) bool {
	args := e.args
	ok := true
	for i := 0; i < len(args); i++ {
		crit := strings.ToLower(args[i])
		neg := strings.HasPrefix(crit, "!")
		crit = strings.TrimPrefix(crit, "!")
		switch crit {
		case "all":
			if neg {
				ok = false
			}
		case "host", "originalhost":
			if i+1 >= len(args) {
				r.warn(e, "Match "+crit+" needs a pattern list; block ignored")
				return false
			}
			i++
			name := r.alias
			if crit == "host" && r.seen["hostname"] {
				name = expandHostName(r.vals["hostname"][0], r.alias)
			}
			m := matchList(name, strings.Split(args[i], ","))
			if m == neg {
				ok = false
			}
		default:
			r.warn(e, "Match "+crit+" is not supported; block ignored")
			return false
		}
	}
	return ok
}

func expandHostName(v, alias string) string {
	s, err := expandTokens(v, "h", tokens{host: alias})
	if err != nil {
		return v
	}
	return s
}

func (r *resolver) finish(env Env) *HostConfig {
	h := &HostConfig{Alias: r.alias, HostName: r.alias, User: env.LocalUser, Port: 22, StrictHostKeyChecking: "yes", Warnings: r.warnings}
	first := func(k string) (string, bool) {
		if v, ok := r.vals[k]; ok && len(v) > 0 {
			return v[0], true
		}
		return "", false
	}
	if v, ok := first("hostname"); ok {
		h.HostName = expandHostName(v, r.alias)
	}
	if v, ok := first("user"); ok {
		h.User = v
	}
	if v, ok := first("port"); ok {
		if p, err := parsePort(v); err == nil {
			h.Port = p
		}
	}
	t := tokens{home: env.Home, localUser: env.LocalUser, host: h.HostName, alias: r.alias, remoteUser: h.User, port: h.Port}
	path := func(key, v string) string {
		s, err := expandTokens(v, tokenSet(key), t)
		if err != nil {
			return v
		}
		return expandTilde(s, env.Home)
	}
	for _, f := range r.idFiles {
		h.IdentityFiles = append(h.IdentityFiles, path("identityfile", f))
	}
	if v, ok := first("identitiesonly"); ok {
		h.IdentitiesOnly, _ = parseYesNo(v)
	}
	if v, ok := first("identityagent"); ok {
		switch {
		case strings.EqualFold(v, "none"):
			h.IdentityAgent = "none"
		case v == "SSH_AUTH_SOCK":
			h.IdentityAgent = ""
		default:
			h.IdentityAgent = path("identityagent", v)
		}
	}
	if vs, ok := r.vals["userknownhostsfile"]; ok {
		for _, v := range vs {
			if !strings.EqualFold(v, "none") {
				h.UserKnownHostsFiles = append(h.UserKnownHostsFiles, path("userknownhostsfile", v))
			}
		}
	} else if env.Home != "" {
		h.UserKnownHostsFiles = []string{filepath.Join(env.Home, ".ssh", "known_hosts"), filepath.Join(env.Home, ".ssh", "known_hosts2")}
	}
	if vs, ok := r.vals["globalknownhostsfile"]; ok {
		for _, v := range vs {
			if !strings.EqualFold(v, "none") {
				h.GlobalKnownHostsFiles = append(h.GlobalKnownHostsFiles, expandTilde(v, env.Home))
			}
		}
	} else {
		h.GlobalKnownHostsFiles = []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}
	}
	if v, ok := first("stricthostkeychecking"); ok {
		h.StrictHostKeyChecking = strictValues[strings.ToLower(v)]
	}
	if v, ok := first("proxyjump"); ok && !strings.EqualFold(v, "none") {
		h.ProxyJump = strings.Split(v, ",")
	}
	seconds := func(k string) time.Duration {
		if v, ok := first(k); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return time.Duration(n) * time.Second
			}
		}
		return 0
	}
	h.ConnectTimeout = seconds("connecttimeout")
	h.ServerAliveInterval = seconds("serveraliveinterval")
	h.ServerAliveCountMax = 3
	if v, ok := first("serveralivecountmax"); ok {
		h.ServerAliveCountMax, _ = strconv.Atoi(v)
	}
	return h
}

// quote quotes a value for a message, cut to about 120 bytes.
func quote(s string) string {
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strconv.Quote(s)
}
