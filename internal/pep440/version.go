// Package pep440 parses, orders and matches Python package versions as
// defined by PEP 440 (the PyPA "Version specifiers" specification).
//
// Parse accepts every alternative spelling the specification requires an
// installer to understand (upper case, "v" prefix, "-"/"_"/"." separators,
// alpha/beta/c/pre/preview, rev/r, implicit numbers and implicit "-N" post
// releases) and String renders the canonical normal form. Compare orders
// versions; ParseSpecifier and SpecifierSet.Contains evaluate version
// specifiers such as ">=1.2,!=1.3.*,<2".
package pep440

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidVersion is wrapped by every error Parse returns.
var ErrInvalidVersion = errors.New("invalid PEP 440 version")

// Pre-release kinds, in ascending order.
const (
	preNone = iota
	preAlpha
	preBeta
	preRC
)

var preLabels = [...]string{preAlpha: "a", preBeta: "b", preRC: "rc"}

// Version is a parsed PEP 440 version. The zero value is not a valid version;
// obtain values from Parse or MustParse. Versions are immutable.
type Version struct {
	epoch   uint64
	release []uint64
	preKind int
	preN    uint64
	hasPost bool
	postN   uint64
	hasDev  bool
	devN    uint64
	local   []string // lower case; numeric segments without leading zeros
}

// Parse parses a version, accepting the alternative spellings PEP 440 lists
// under "Normalization". Leading and trailing whitespace (what Python's
// str.isspace calls whitespace, as packaging strips) is ignored.
func Parse(s string) (Version, error) {
	p := versionParser{s: asciiLower(trimSpace(s))}
	v, err := p.parse()
	if err != nil {
		return Version{}, fmt.Errorf("%w %s: %s", ErrInvalidVersion, quote(s), err.Error())
	}
	return v, nil
}

// MustParse is like Parse but panics on error. It is meant for constants in
// tests and tables.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Epoch returns the epoch (0 when none was written).
func (v Version) Epoch() uint64 { return v.epoch }

// Release returns a copy of the release segment, e.g. [1 2 0] for "1.2.0".
func (v Version) Release() []uint64 { return append([]uint64(nil), v.release...) }

// Pre returns the normalized pre-release label ("a", "b" or "rc") and number.
func (v Version) Pre() (label string, n uint64, ok bool) {
	if v.preKind == preNone {
		return "", 0, false
	}
	return preLabels[v.preKind], v.preN, true
}

// Post returns the post-release number.
func (v Version) Post() (n uint64, ok bool) { return v.postN, v.hasPost }

// Dev returns the development release number.
func (v Version) Dev() (n uint64, ok bool) { return v.devN, v.hasDev }

// Local returns the normalized local version label ("" when none).
func (v Version) Local() string { return strings.Join(v.local, ".") }

// IsPrerelease reports whether v is a pre-release or a development release.
func (v Version) IsPrerelease() bool { return v.preKind != preNone || v.hasDev }

// IsDevrelease reports whether v has a development release segment.
func (v Version) IsDevrelease() bool { return v.hasDev }

// IsPostrelease reports whether v has a post-release segment.
func (v Version) IsPostrelease() bool { return v.hasPost }

// Public returns v without its local version label.
func (v Version) Public() Version {
	v.local = nil
	return v
}

// BaseVersion returns only the epoch and release segment of v.
func (v Version) BaseVersion() Version {
	return Version{epoch: v.epoch, release: v.release}
}

// String returns the canonical normal form, e.g. "1!2.0rc1.post3.dev4+ubuntu.1".
func (v Version) String() string {
	var b strings.Builder
	if v.epoch != 0 {
		b.WriteString(strconv.FormatUint(v.epoch, 10))
		b.WriteByte('!')
	}
	for i, n := range v.release {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(n, 10))
	}
	if v.preKind != preNone {
		b.WriteString(preLabels[v.preKind])
		b.WriteString(strconv.FormatUint(v.preN, 10))
	}
	if v.hasPost {
		b.WriteString(".post")
		b.WriteString(strconv.FormatUint(v.postN, 10))
	}
	if v.hasDev {
		b.WriteString(".dev")
		b.WriteString(strconv.FormatUint(v.devN, 10))
	}
	if len(v.local) > 0 {
		b.WriteByte('+')
		b.WriteString(v.Local())
	}
	return b.String()
}

// Compare returns -1, 0 or +1 as a sorts before, equal to or after b in
// PEP 440 order. Release segments are zero padded, so 1.0 equals 1.0.0.
func Compare(a, b Version) int {
	if c := cmpUint(a.epoch, b.epoch); c != 0 {
		return c
	}
	if c := compareRelease(a.release, b.release); c != 0 {
		return c
	}
	if c := compareInts(a.preKey(), b.preKey()); c != 0 {
		return c
	}
	if c := compareInts(a.postKey(), b.postKey()); c != 0 {
		return c
	}
	if c := compareInts(a.devKey(), b.devKey()); c != 0 {
		return c
	}
	return compareLocal(a.local, b.local)
}

// preKey orders the pre-release segment: a dev release of a final version
// sorts before all pre-releases, a final version after them.
func (v Version) preKey() []uint64 {
	switch {
	case v.preKind == preNone && !v.hasPost && v.hasDev:
		return []uint64{0}
	case v.preKind != preNone:
		return []uint64{1, uint64(v.preKind), v.preN}
	default:
		return []uint64{2}
	}
}

func (v Version) postKey() []uint64 {
	if !v.hasPost {
		return []uint64{0}
	}
	return []uint64{1, v.postN}
}

func (v Version) devKey() []uint64 {
	if !v.hasDev {
		return []uint64{1}
	}
	return []uint64{0, v.devN}
}

func compareRelease(a, b []uint64) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y uint64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := cmpUint(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func compareInts(a, b []uint64) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := cmpUint(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmpUint(uint64(len(a)), uint64(len(b)))
}

// compareLocal orders local labels segment by segment: numeric segments
// compare numerically and sort after alphanumeric ones, which compare as
// (lower-case) strings; a label that extends another sorts after it.
func compareLocal(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		an, bn := isDigits(a[i]), isDigits(b[i])
		var c int
		switch {
		case an && bn:
			// Leading zeros were removed while parsing.
			c = cmpUint(uint64(len(a[i])), uint64(len(b[i])))
			if c == 0 {
				c = strings.Compare(a[i], b[i])
			}
		case an:
			c = 1
		case bn:
			c = -1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmpUint(uint64(len(a)), uint64(len(b)))
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// versionParser is a hand-written scanner equivalent to the permissive
// regular expression in the specification's appendix. Its input is already
// trimmed and lower-cased.
type versionParser struct {
	s string
	i int
}

func (p *versionParser) parse() (Version, error) {
	var v Version
	if p.s == "" {
		return v, errors.New("empty string")
	}
	p.accept("v")
	n, err := p.number()
	if err != nil {
		return v, err
	}
	if p.accept("!") {
		v.epoch = n
		if n, err = p.number(); err != nil {
			return v, err
		}
	}
	v.release = append(v.release, n)
	for p.peek(0) == '.' && isDigit(p.peek(1)) {
		p.i++
		if n, err = p.number(); err != nil {
			return v, err
		}
		v.release = append(v.release, n)
	}

	// Pre-release: [-_.]? label [-_.]? N?
	start := p.i
	p.separator()
	if label := p.oneOf("alpha", "a", "beta", "b", "preview", "pre", "rc", "c"); label != "" {
		switch label {
		case "alpha", "a":
			v.preKind = preAlpha
		case "beta", "b":
			v.preKind = preBeta
		default:
			v.preKind = preRC
		}
		if v.preN, err = p.optionalNumber(); err != nil {
			return v, err
		}
	} else {
		p.i = start
	}

	// Post-release: -N, or [-_.]? label [-_.]? N?
	start = p.i
	if p.peek(0) == '-' && isDigit(p.peek(1)) {
		p.i++
		v.hasPost = true
		if v.postN, err = p.number(); err != nil {
			return v, err
		}
	} else {
		p.separator()
		if p.oneOf("post", "rev", "r") != "" {
			v.hasPost = true
			if v.postN, err = p.optionalNumber(); err != nil {
				return v, err
			}
		} else {
			p.i = start
		}
	}

	// Development release: [-_.]? dev [-_.]? N?
	start = p.i
	p.separator()
	if p.accept("dev") {
		v.hasDev = true
		if v.devN, err = p.optionalNumber(); err != nil {
			return v, err
		}
	} else {
		p.i = start
	}

	// Local label: + segment ([-_.] segment)*
	if p.accept("+") {
		for {
			seg := p.alnum()
			if seg == "" {
				return v, p.unexpected("local version label segment")
			}
			if isDigits(seg) {
				seg = strings.TrimLeft(seg, "0")
				if seg == "" {
					seg = "0"
				}
			}
			v.local = append(v.local, seg)
			if !p.separator() {
				break
			}
		}
	}
	if p.i != len(p.s) {
		return v, p.unexpected("end of version")
	}
	return v, nil
}

func (p *versionParser) peek(off int) byte {
	if p.i+off < len(p.s) {
		return p.s[p.i+off]
	}
	return 0
}

func (p *versionParser) accept(lit string) bool {
	if strings.HasPrefix(p.s[p.i:], lit) {
		p.i += len(lit)
		return true
	}
	return false
}

func (p *versionParser) oneOf(lits ...string) string {
	for _, l := range lits {
		if p.accept(l) {
			return l
		}
	}
	return ""
}

func (p *versionParser) separator() bool {
	switch p.peek(0) {
	case '-', '_', '.':
		p.i++
		return true
	}
	return false
}

func (p *versionParser) alnum() string {
	start := p.i
	for p.i < len(p.s) && (isDigit(p.s[p.i]) || 'a' <= p.s[p.i] && p.s[p.i] <= 'z') {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *versionParser) number() (uint64, error) {
	start := p.i
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		p.i++
	}
	if start == p.i {
		return 0, p.unexpected("a number")
	}
	n, err := strconv.ParseUint(p.s[start:p.i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("number %s is too large", quote(p.s[start:p.i]))
	}
	return n, nil
}

// optionalNumber reads "[-_.]? N?" after a pre, post or dev label. As in the
// reference regular expression, a separator not followed by digits is
// consumed too (later segments never require one).
func (p *versionParser) optionalNumber() (uint64, error) {
	p.separator()
	if !isDigit(p.peek(0)) {
		return 0, nil
	}
	return p.number()
}

func (p *versionParser) unexpected(want string) error {
	if p.i >= len(p.s) {
		return fmt.Errorf("expected %s at end of input", want)
	}
	return fmt.Errorf("expected %s at offset %d, found %s", want, p.i, quote(p.s[p.i:]))
}

// trimSpace removes leading and trailing whitespace as Python's str.strip
// and the \s of its regular expressions see it: Unicode white space plus
// the ASCII separators U+001C to U+001F.
func trimSpace(s string) string { return strings.TrimFunc(s, isSpace) }

// isSpace reports whether Python's str.isspace holds for r.
func isSpace(r rune) bool { return unicode.IsSpace(r) || 0x1c <= r && r <= 0x1f }

// maxQuoted is how much of an input a message quotes.
const maxQuoted = 80

// quote renders s for a message: Go-quoted, and cut after maxQuoted bytes
// so that a hostile megabyte-long input is not echoed whole.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
