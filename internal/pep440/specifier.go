package pep440

import (
	"errors"
	"fmt"
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
	if trimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > 1 && trimSpace(parts[len(parts)-1]) == "" {
		parts = parts[:len(parts)-1] // trailing comma
	}
	set := make(SpecifierSet, 0, len(parts))
	for _, part := range parts {
		sp, err := parseClause(trimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%w %s: %s", ErrInvalidSpecifier, quote(s), err.Error())
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
		return sp, fmt.Errorf("clause %s does not start with an operator (one of ~= == != <= >= < > ===)", quote(c))
	}
	sp.Text = trimSpace(c[len(sp.Op):])
	if sp.Text == "" {
		return sp, fmt.Errorf("operator %s has no version", sp.Op)
	}
	if sp.Op == OpArbitrary {
		if strings.IndexFunc(sp.Text, func(r rune) bool { return isSpace(r) || r == ';' || r == ')' }) >= 0 {
			return sp, fmt.Errorf("=== operand %s contains whitespace or a delimiter", quote(sp.Text))
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
		if text != trimSpace(text) {
			return sp, fmt.Errorf("prefix match %s has whitespace before .*", quote(sp.Text))
		}
	}
	v, err := Parse(text)
	if err != nil {
		return sp, err
	}
	sp.Version = v
	switch {
	case sp.Wildcard && (v.preKind != preNone || v.hasPost || v.hasDev || len(v.local) > 0):
		return sp, fmt.Errorf("prefix match %s may only hold a release such as 1.2.* (no pre, post, dev or local segment)", quote(sp.Text))
	case sp.Op != OpEqual && sp.Op != OpNotEqual && len(v.local) > 0:
		return sp, fmt.Errorf("local versions are not permitted with %s", sp.Op)
	case sp.Op == OpCompatible && len(v.release) < 2:
		return sp, fmt.Errorf("~= needs at least two release segments, got %s", quote(sp.Text))
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
// the exclusive ordered comparisons (as packaging 26.1 and later read them:
// >V leaves out only V's own post-releases and local versions, <V only the
// pre-releases of V's release when V is not itself a pre-release).
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
		if spec.IsPrerelease() {
			return Compare(v, spec) < 0
		}
		// Below V.dev0 (V keeps its post segment): no pre-release of V's
		// release, nor a dev release of V itself.
		bound := spec
		bound.hasDev, bound.devN, bound.local = true, 0, nil
		return Compare(v, bound) < 0
	case OpGreater:
		if spec.hasDev || spec.hasPost {
			// Nothing lies between V and its successor but V's local versions.
			return Compare(v.Public(), spec) > 0
		}
		// Above V and outside V's family: V+local and V.postN (with any
		// dev or local segment) share V's epoch, release and pre-release.
		if Compare(v, spec) <= 0 {
			return false
		}
		return v.epoch != spec.epoch || compareRelease(v.release, spec.release) != 0 ||
			v.preKind != spec.preKind || v.preN != spec.preN
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

// prefixMatch implements "==prefix.*" and the upper bound of "~=": v's
// epoch equals the prefix's and v's release, zero padded to the prefix's
// length, starts with the prefix's release.
func prefixMatch(prefix, v Version) bool {
	if v.epoch != prefix.epoch {
		return false
	}
	for i, n := range prefix.release {
		var x uint64
		if i < len(v.release) {
			x = v.release[i]
		}
		if x != n {
			return false
		}
	}
	return true
}
