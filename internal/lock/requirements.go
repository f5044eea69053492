package lock

import (
	"fmt"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// logicalLine is a requirements line after joining "\" continuations.
type logicalLine struct {
	num  int // first physical line, 1-based
	text string
}

// logicalLines joins continuation lines the way pip does: a line ending in
// a backslash continues on the next line unless it contains a comment, and
// a comment line ends a continuation.
func logicalLines(text string) []logicalLine {
	var out []logicalLine
	var buf strings.Builder
	start := 0
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		comment := commentStart(line) >= 0
		if strings.HasSuffix(line, `\`) && !comment {
			if start == 0 {
				start = i + 1
			}
			buf.WriteString(strings.TrimRight(line, `\`))
			continue
		}
		if start == 0 {
			out = append(out, logicalLine{i + 1, line})
			continue
		}
		if comment {
			buf.WriteByte(' ') // as pip does, so the comment is still found
		}
		buf.WriteString(line)
		out = append(out, logicalLine{start, buf.String()})
		buf.Reset()
		start = 0
	}
	if start != 0 {
		out = append(out, logicalLine{start, buf.String()})
	}
	return out
}

// commentStart returns the index of a '#' that starts a comment (at the
// start of the line or preceded by whitespace), or -1.
func commentStart(line string) int {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// field is a whitespace-separated word and its offset in the line.
type field struct {
	text string
	pos  int
}

func fields(s string) []field {
	var out []field
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		start := i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		if start < i {
			out = append(out, field{s[start:i], start})
		}
	}
	return out
}

// requirementsParser holds the state of one requirements file.
type requirementsParser struct {
	lock      *Lock
	errs      *errList
	indexLine int      // line of the first --index-url
	canon     []string // canonical marker of each pin
}

func parseRequirements(l *Lock, text string) error {
	p := &requirementsParser{lock: l, errs: &errList{file: l.Path}}
	for _, ln := range logicalLines(text) {
		line := ln.text
		if i := commentStart(line); i >= 0 {
			line = line[:i]
		}
		fs := fields(line)
		if len(fs) == 0 {
			continue
		}
		if strings.HasSuffix(fs[len(fs)-1].text, `\`) {
			p.errs.add(ln.num, nil, "stray backslash: a line continuation must be the last character on its line")
			continue
		}
		if strings.HasPrefix(fs[0].text, "-") {
			p.options(ln.num, fs)
			continue
		}
		// As in pip, the requirement ends at the first word starting with '-'.
		opts := len(fs)
		for i, f := range fs {
			if strings.HasPrefix(f.text, "-") {
				opts = i
				break
			}
		}
		end := len(line)
		if opts < len(fs) {
			end = fs[opts].pos
		}
		p.requirement(ln.num, strings.TrimSpace(line[:end]), fs[opts:])
	}
	checkDuplicates(l.Pins, p.canon, p.errs)
	return p.errs.err()
}

// options handles a line of global options such as "--index-url URL".
func (p *requirementsParser) options(line int, fs []field) {
	for i := 0; i < len(fs); i++ {
		word := fs[i].text
		name, value, hasValue := word, "", false
		switch {
		case strings.HasPrefix(word, "--"):
			name, value, hasValue = strings.Cut(word, "=")
		case len(word) > 2: // -iURL
			name, value, hasValue = word[:2], word[2:], true
		}
		// takeValue returns the option's argument, attached or the next word.
		takeValue := func() (string, bool) {
			if hasValue {
				return value, value != ""
			}
			if i+1 < len(fs) && !strings.HasPrefix(fs[i+1].text, "-") {
				i++
				return fs[i].text, true
			}
			return "", false
		}
		switch name {
		case "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--no-binary", "--only-binary":
			v, ok := takeValue()
			if !ok {
				p.errs.add(line, nil, "option %s needs a value", name)
				return
			}
			p.setOption(line, name, v)
		case "--prefer-binary", "--require-hashes", "--pre", "--no-index":
			if hasValue {
				p.errs.add(line, nil, "option %s takes no value", name)
				return
			}
			if name == "--no-index" {
				p.lock.NoIndex = true
			}
		case "-r", "--requirement", "-c", "--constraint":
			v, _ := takeValue()
			p.errs.add(line, nil, "%s %s: includes are not supported in a lock file; flatten it into a single file (pip-compile or uv pip compile does this)", name, v)
			return
		case "-e", "--editable":
			v, _ := takeValue()
			p.errs.add(line, nil, "editable requirement %s %s is not supported; pipbake installs pinned wheels only", name, v)
			return
		case "--hash":
			p.errs.add(line, nil, "--hash without a requirement on the same line (is the previous line missing a continuation backslash, or has whitespace after it?)")
			return
		default:
			if !strings.HasPrefix(word, "-") {
				p.errs.add(line, nil, "unexpected %q after options", word)
			} else {
				p.errs.add(line, nil, "unknown or unsupported option %s", name)
			}
			return
		}
	}
}

func (p *requirementsParser) setOption(line int, name, value string) {
	l := p.lock
	switch name {
	case "-i", "--index-url":
		if l.IndexURL != "" && l.IndexURL != value {
			p.errs.add(line, nil, "--index-url %s conflicts with --index-url %s on line %d", value, l.IndexURL, p.indexLine)
			return
		}
		l.IndexURL, p.indexLine = value, line
	case "--extra-index-url":
		l.ExtraIndexURLs = append(l.ExtraIndexURLs, value)
	case "-f", "--find-links":
		l.FindLinks = append(l.FindLinks, value)
	case "--trusted-host":
		l.TrustedHosts = append(l.TrustedHosts, value)
	}
}

// requirement handles one requirement line: req is the PEP 508 part, opts
// the per-requirement options that follow it.
func (p *requirementsParser) requirement(line int, req string, opts []field) {
	r, err := parseRequirement(req)
	if err != nil {
		p.errs.add(line, nil, "%s", err)
		return
	}
	pin := Pin{Name: r.name, Extras: r.extras, Marker: r.marker, Line: line}
	canon := ""
	bad := false
	if r.marker != "" {
		e, err := marker.Parse(r.marker)
		if err != nil {
			p.errs.add(line, err, "invalid marker in requirement %q", r.spec)
			bad = true
		}
		canon = e.String()
	}

	set, err := pep440.ParseSpecifier(r.version)
	switch {
	case err != nil:
		p.errs.add(line, err, "invalid version in requirement %q", r.spec)
		bad = true
	case len(set) != 1 || set[0].Op != pep440.OpEqual:
		p.errs.add(line, nil, "requirement %q is not pinned with ==", r.spec)
		bad = true
	case set[0].Wildcard:
		p.errs.add(line, nil, "requirement %q pins a wildcard; pin one exact version", r.spec)
		bad = true
	default:
		pin.Version = set[0].Text
	}

	for i := 0; i < len(opts); i++ {
		name, value, hasValue := strings.Cut(opts[i].text, "=")
		if name != "--hash" {
			p.errs.add(line, nil, "unsupported option %s for requirement %q", name, r.spec)
			bad = true
			continue
		}
		if !hasValue {
			if i+1 < len(opts) && !strings.HasPrefix(opts[i+1].text, "-") {
				i++
				value = opts[i].text
			}
		}
		h, err := parseHashOption(value)
		if err != nil {
			p.errs.add(line, err, "malformed --hash for %q", r.name)
			bad = true
			continue
		}
		pin.Hashes = appendHash(pin.Hashes, h)
	}
	switch {
	case len(pin.Hashes) == 0 && !bad:
		p.errs.add(line, nil, "requirement %q has no --hash; pipbake needs hashes for every package (generate the lock with --generate-hashes)", r.spec)
		bad = true
	case len(pin.Hashes) > 0 && len(pin.SHA256()) == 0:
		p.errs.add(line, nil, "requirement %q has no sha256 --hash; pipbake verifies wheels by sha256", r.spec)
		bad = true
	}
	if !bad {
		p.lock.Pins = append(p.lock.Pins, pin)
		p.canon = append(p.canon, canon)
	}
}

// pipHashes are the algorithms pip accepts in --hash.
var pipHashes = map[string]bool{"sha256": true, "sha384": true, "sha512": true}

func parseHashOption(v string) (Hash, error) {
	algo, digest, ok := strings.Cut(v, ":")
	if !ok {
		return Hash{}, fmt.Errorf("%q is not <algorithm>:<hex digest>", v)
	}
	if !pipHashes[strings.ToLower(algo)] {
		return Hash{}, fmt.Errorf("algorithm %q is not one of sha256, sha384, sha512", algo)
	}
	return newHash(algo, digest)
}

func appendHash(hs []Hash, h Hash) []Hash {
	for _, x := range hs {
		if x == h {
			return hs
		}
	}
	return append(hs, h)
}

// requirementSpec is a parsed PEP 508 name-based requirement.
type requirementSpec struct {
	spec    string // name, extras and version as written (no marker)
	name    string
	extras  []string
	version string // the version specifier text
	marker  string
}

// parseRequirement splits a PEP 508 requirement into its parts. URL, path
// and VCS requirements are refused.
func parseRequirement(req string) (requirementSpec, error) {
	r := requirementSpec{spec: req}
	if before, _, ok := strings.Cut(req, ";"); ok {
		r.spec = strings.TrimSpace(before)
	}
	if isURLOrPath(r.spec) {
		return r, fmt.Errorf("requirement %q is a URL or path; pipbake installs pinned packages from an index only", shorten(r.spec))
	}
	i := 0
	for i < len(req) && (isNameByte(req[i])) {
		i++
	}
	r.name = req[:i]
	if r.name == "" || !pyname.Valid(r.name) {
		return r, fmt.Errorf("invalid requirement %q: it does not start with a valid package name", shorten(r.spec))
	}
	rest := strings.TrimLeft(req[i:], " \t")
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return r, fmt.Errorf("invalid requirement %q: unclosed [ in extras", shorten(r.spec))
		}
		for _, e := range strings.Split(rest[1:end], ",") {
			e = strings.TrimSpace(e)
			if !pyname.Valid(e) {
				return r, fmt.Errorf("invalid requirement %q: invalid extra name %q", shorten(r.spec), e)
			}
			r.extras = append(r.extras, e)
		}
		rest = strings.TrimLeft(rest[end+1:], " \t")
	}
	if strings.HasPrefix(rest, "@") {
		return r, fmt.Errorf("requirement %q is a direct URL reference; pipbake installs pinned packages from an index only", shorten(r.spec))
	}
	if rest != "" && !strings.ContainsRune("=!<>~(;", rune(rest[0])) {
		return r, fmt.Errorf("invalid requirement %q: unexpected %q after the package name", shorten(r.spec), strings.TrimSpace(strings.SplitN(rest, ";", 2)[0]))
	}
	version, mark, _ := strings.Cut(rest, ";")
	r.marker = strings.TrimSpace(mark)
	version = strings.TrimSpace(version)
	if strings.HasPrefix(version, "(") && strings.HasSuffix(version, ")") {
		version = strings.TrimSpace(version[1 : len(version)-1])
	}
	r.version = version
	if strings.Contains(rest, ";") && r.marker == "" {
		return r, fmt.Errorf("invalid requirement %q: empty marker after ';'", shorten(r.spec))
	}
	return r, nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// isURLOrPath reports whether a requirement is a file path, URL or VCS
// reference rather than a name.
func isURLOrPath(s string) bool {
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(s, "."), strings.HasPrefix(s, "/"), strings.HasPrefix(s, "~"), strings.HasPrefix(s, `\`):
		return true
	case len(s) >= 3 && s[1] == ':' && (s[2] == '\\' || s[2] == '/'): // C:\ or C:/
		return true
	case strings.Contains(lower, "://"), strings.HasPrefix(lower, "file:"):
		return true
	case strings.HasSuffix(lower, ".whl"), strings.HasSuffix(lower, ".zip"), strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"), strings.HasSuffix(lower, ".tar.bz2"):
		return true
	}
	for _, vcs := range []string{"git+", "hg+", "svn+", "bzr+"} {
		if strings.HasPrefix(lower, vcs) {
			return true
		}
	}
	return strings.ContainsAny(s, `/\`) && !strings.ContainsAny(s, "=<>!~")
}
