package pep440

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidSpecifier is wrapped by every error ParseSpecifier returns.
var ErrInvalidSpecifier = errors.New("invalid PEP 440 version specifier")

// Op is a version comparison operator.
type Op string

// The operators of PEP 440 version specifiers.
const (
	OpCompatible   Op = "~="
	OpEqual        Op = "=="
	OpNotEqual     Op = "!="
	OpLessEqual    Op = "<="
	OpGreaterEqual Op = ">="
	OpLess         Op = "<"
	OpGreater      Op = ">"
	OpArbitrary    Op = "==="
)

// operators in the order they must be tried (longest first).
var operators = []Op{OpArbitrary, OpCompatible, OpEqual, OpNotEqual, OpLessEqual, OpGreaterEqual, OpLess, OpGreater}

// Specifier is one clause of a specifier set, such as ">=1.2" or "==1.4.*".
type Specifier struct {
	Op Op
	// Version is the clause's version; for a wildcard clause it is the prefix
	// before ".*". It is the zero Version for OpArbitrary.
	Version Version
	// Wildcard is set for "==V.*" and "!=V.*" prefix matching clauses.
	Wildcard bool
	// Text is the version text as written (trimmed), including any ".*".
	Text string
}

// SpecifierSet is a comma-separated list of clauses that must all match.
// The empty set matches every version.
type SpecifierSet []Specifier

// ParseSpecifier parses a comma-separated version specifier such as
// "~= 0.9, >= 1.0, != 1.3.4.*, < 2.0". A trailing comma is allowed and the
// empty string yields an empty set.
func ParseSpecifier(s string) (SpecifierSet, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > 1 && strings.TrimSpace(parts[len(parts)-1]) == "" {
		parts = parts[:len(parts)-1] // trailing comma
	}
	set := make(SpecifierSet, 0, len(parts))
	for _, part := range parts {
		sp, err := parseClause(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%w %q: %s", ErrInvalidSpecifier, s, err.Error())
		}
		set = append(set, sp)
	}
	return set, nil
}

func parseClause(c string) (Specifier, error) {
	if c == "" {
		return Specifier{}, errors.New("empty clause")
	}
	var sp Specifier
	for _, op := range operators {
		if strings.HasPrefix(c, string(op)) {
			sp.Op = op
			break
		}
	}
	if sp.Op == "" {
		return sp, fmt.Errorf("clause %q does not start with an operator (one of ~= == != <= >= < > ===)", c)
	}
	sp.Text = strings.TrimSpace(c[len(sp.Op):])
	if sp.Text == "" {
		return sp, fmt.Errorf("operator %s has no version", sp.Op)
	}
	if sp.Op == OpArbitrary {
		if strings.ContainsAny(sp.Text, " \t\n\r\f\v;)") {
			return sp, fmt.Errorf("=== operand %q contains whitespace or a delimiter", sp.Text)
		}
		return sp, nil
	}
	text := sp.Text
	if strings.HasSuffix(text, ".*") {
		if sp.Op != OpEqual && sp.Op != OpNotEqual {
			return sp, fmt.Errorf("a .* suffix is only allowed with == and !=, not %s", sp.Op)
		}
		sp.Wildcard = true
		text = strings.TrimSuffix(text, ".*")
	}
	v, err := Parse(text)
	if err != nil {
		return sp, err
	}
	sp.Version = v
	switch {
	case sp.Wildcard && v.hasDev:
		return sp, fmt.Errorf("prefix match %q must not contain a development release", sp.Text)
	case sp.Wildcard && len(v.local) > 0:
		return sp, fmt.Errorf("prefix match %q must not contain a local version", sp.Text)
	case sp.Op != OpEqual && sp.Op != OpNotEqual && len(v.local) > 0:
		return sp, fmt.Errorf("local versions are not permitted with %s", sp.Op)
	case sp.Op == OpCompatible && len(v.release) < 2:
		return sp, fmt.Errorf("~= needs at least two release segments, got %q", sp.Text)
	}
	return sp, nil
}

// Contains reports whether v satisfies every clause. Pre-releases are not
// excluded: this package evaluates pins and markers, it does not resolve.
func (ss SpecifierSet) Contains(v Version) bool {
	for _, s := range ss {
		if !s.Contains(v) {
			return false
		}
	}
	return true
}

// String renders the set in canonical form, e.g. ">=1.0,<2".
func (ss SpecifierSet) String() string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

// String renders the clause with its version in canonical form.
func (s Specifier) String() string {
	switch {
	case s.Op == OpArbitrary:
		return string(s.Op) + s.Text
	case s.Wildcard:
		return string(s.Op) + s.Version.String() + ".*"
	}
	return string(s.Op) + s.Version.String()
}

// Contains reports whether v satisfies the clause, following the
// specification's rules on zero padding, local versions, prefix matching and
// the exclusive ordered comparisons.
func (s Specifier) Contains(v Version) bool {
	spec := s.Version
	switch s.Op {
	case OpEqual:
		return s.equal(v)
	case OpNotEqual:
		return !s.equal(v)
	case OpCompatible:
		prefix := Version{epoch: spec.epoch, release: spec.release[:len(spec.release)-1]}
		return Compare(v.Public(), spec) >= 0 && prefixMatch(prefix, v)
	case OpLessEqual:
		return Compare(v.Public(), spec) <= 0
	case OpGreaterEqual:
		return Compare(v.Public(), spec) >= 0
	case OpLess:
		if Compare(v, spec) >= 0 {
			return false
		}
		// <V excludes pre-releases of V itself unless V is one.
		return spec.IsPrerelease() || !v.IsPrerelease() || Compare(v.BaseVersion(), spec.BaseVersion()) != 0
	case OpGreater:
		if Compare(v, spec) <= 0 {
			return false
		}
		sameBase := Compare(v.BaseVersion(), spec.BaseVersion()) == 0
		// >V excludes post-releases of V unless V is one, and local versions of V.
		if !spec.IsPostrelease() && v.IsPostrelease() && sameBase {
			return false
		}
		return len(v.local) == 0 || !sameBase
	case OpArbitrary:
		return strings.EqualFold(v.String(), s.Text)
	}
	return false
}

func (s Specifier) equal(v Version) bool {
	if s.Wildcard {
		return prefixMatch(s.Version, v)
	}
	if len(s.Version.local) == 0 {
		v = v.Public()
	}
	return Compare(v, s.Version) == 0
}

// prefixMatch implements "==prefix.*": the candidate's public version, its
// release zero padded to at least the prefix's length, must start with the
// prefix's segments (epoch, release, then pre and post when present).
func prefixMatch(prefix, v Version) bool {
	want := segments(prefix, len(prefix.release))
	got := segments(v.Public(), max(len(prefix.release), len(v.release)))
	if len(got) < len(want) {
		return false
	}
	for i := range want {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// segments splits a version into comparable tokens: epoch, release padded
// to n segments, then pre, post and dev labels.
func segments(v Version, n int) []string {
	out := []string{strconv.FormatUint(v.epoch, 10)}
	for i := 0; i < n; i++ {
		var x uint64
		if i < len(v.release) {
			x = v.release[i]
		}
		out = append(out, strconv.FormatUint(x, 10))
	}
	if v.preKind != preNone {
		out = append(out, preLabels[v.preKind]+strconv.FormatUint(v.preN, 10))
	}
	if v.hasPost {
		out = append(out, "post"+strconv.FormatUint(v.postN, 10))
	}
	if v.hasDev {
		out = append(out, "dev"+strconv.FormatUint(v.devN, 10))
	}
	return out
}
