package marker

import (
	"fmt"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
)

// Operator precedence levels used when printing.
const (
	precOr = iota
	precAnd
)

type node interface {
	eval(s *evalState) (bool, error)
	write(b *strings.Builder, parentPrec int)
}

type evalState struct {
	env Env
	ctx Context
}

// boolNode is "a and b and ..." or "a or b or ...".
type boolNode struct {
	or    bool
	items []node
}

// eval evaluates every item even when the result is already known, so that
// a variable missing from env is reported no matter where it appears.
func (n *boolNode) eval(s *evalState) (bool, error) {
	result := !n.or
	for _, item := range n.items {
		v, err := item.eval(s)
		if err != nil {
			return false, err
		}
		if n.or {
			result = result || v
		} else {
			result = result && v
		}
	}
	return result, nil
}

func (n *boolNode) write(b *strings.Builder, parentPrec int) {
	prec, word := precAnd, " and "
	if n.or {
		prec, word = precOr, " or "
	}
	if prec < parentPrec {
		b.WriteByte('(')
	}
	for i, item := range n.items {
		if i > 0 {
			b.WriteString(word)
		}
		item.write(b, prec)
	}
	if prec < parentPrec {
		b.WriteByte(')')
	}
}

// operand is a variable name or a literal string.
type operand struct {
	text  string
	isVar bool
}

func (o operand) write(b *strings.Builder) {
	if o.isVar {
		b.WriteString(o.text)
		return
	}
	q := byte('"')
	if strings.Contains(o.text, `"`) && !strings.Contains(o.text, "'") {
		q = '\''
	}
	b.WriteByte(q)
	for _, r := range o.text {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			fmt.Fprintf(b, `\x%02x`, r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
}

// cmpNode is a single comparison such as python_version < "3.11". It
// parses with two literals or two variables too, as in packaging, but
// evaluating those is an error.
type cmpNode struct {
	left  operand
	op    string
	right operand
}

func (n *cmpNode) write(b *strings.Builder, _ int) {
	n.left.write(b)
	b.WriteString(" " + n.op + " ")
	n.right.write(b)
}

// variable returns the variable's name and whether it is on the left.
func (n *cmpNode) variable() (string, bool) {
	if n.left.isVar {
		return n.left.text, true
	}
	return n.right.text, false
}

// normalizeNames normalizes (PEP 685) the literal compared with "extra",
// and the name tested for membership in "extras" or "dependency_groups".
func (n *cmpNode) normalizeNames() {
	if n.left.isVar == n.right.isVar {
		return
	}
	name, varLeft := n.variable()
	switch {
	case name == "extra" && varLeft:
		n.right.text = canonicalName(n.right.text)
	case name == "extra" || setVariables[name] && !varLeft:
		n.left.text = canonicalName(n.left.text)
	}
}

// canonicalName is packaging's canonicalize_name: lower case, with every
// run of '-', '_' and '.' replaced by one '-' (nothing is trimmed).
func canonicalName(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer("_", "-", ".", "-").Replace(s)
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return s
}

// lookup returns a variable's value in s's environment.
func (s *evalState) lookup(name string) (string, error) {
	v, ok := s.env[name]
	switch {
	case ok && name == "extra" && v != "":
		return canonicalName(v), nil
	case ok && name == "python_full_version" && strings.HasSuffix(v, "+"):
		// An untagged CPython build reports "3.11.1+": read it as a local version.
		return v + "local", nil
	case ok:
		return v, nil
	case name == "extra" && s.ctx == Metadata:
		return "", nil
	case setVariables[name] && s.ctx == LockFile:
		return "", nil
	}
	return "", fmt.Errorf("%w: %s (in a %s marker)", ErrUndefined, name, s.ctx)
}

func (n *cmpNode) eval(s *evalState) (bool, error) {
	if n.left.isVar == n.right.isVar {
		// packaging would compare one variable with the other's name, or
		// look a literal up as a variable.
		what := "two quoted strings"
		if n.left.isVar {
			what = "two variables"
		}
		return false, fmt.Errorf("%w: %s %s %s compares %s; one side must be a variable, the other a quoted string",
			ErrUndefinedComparison, n.left.describe(), n.op, n.right.describe(), what)
	}
	name, varLeft := n.variable()
	value, err := s.lookup(name)
	if err != nil {
		return false, err
	}
	if setVariables[name] {
		return n.evalSet(name, value, varLeft)
	}
	lhs, rhs, literal := value, n.right.text, n.right.text
	if !varLeft {
		lhs, rhs, literal = n.left.text, value, n.left.text
	}
	if versionVariables[name] {
		if ok, decided, err := n.evalVersion(name, value, literal, lhs, rhs, varLeft); decided {
			return ok, err
		}
	}
	switch n.op {
	case "in":
		return strings.Contains(rhs, lhs), nil
	case "not in":
		return !strings.Contains(rhs, lhs), nil
	case "==", "<=", ">=":
		return lhs == rhs, nil
	case "!=":
		return lhs != rhs, nil
	case "<", ">":
		return false, nil
	}
	return false, fmt.Errorf("%w: %s %s %s compares strings", ErrUndefinedComparison, n.left.describe(), n.op, n.right.describe())
}

// evalVersion compares a version variable as PEP 440 versions when the
// operator and the right side form a version specifier. decided is false
// when the comparison falls back to strings.
func (n *cmpNode) evalVersion(name, value, literal, lhs, rhs string, varLeft bool) (ok, decided bool, err error) {
	if n.op == "in" || n.op == "not in" || strings.Contains(rhs, ",") {
		return false, false, nil
	}
	spec, specErr := pep440.ParseSpecifier(n.op + rhs)
	if notVersion(n.op, value, literal, varLeft) {
		return false, true, fmt.Errorf("%w: %s is %s, which cannot be compared with version %s",
			ErrNotVersion, name, quote(value), quote(strings.TrimSpace(literal)))
	}
	if specErr != nil || len(spec) != 1 {
		return false, false, nil
	}
	if n.op == "===" {
		// packaging compares str.lower()s; lowering is nearer to that than
		// case folding, which also equates σ and ς.
		//lint:ignore SA6005 Python's lower(), not case folding
		return strings.ToLower(lhs) == strings.ToLower(spec[0].Text), true, nil
	}
	v, err := pep440.Parse(lhs)
	if err != nil {
		return false, true, nil // a literal that is not a version matches no version specifier
	}
	return spec.Contains(v), true, nil
}

// notVersion reports the comparisons of a version variable whose value is
// not a PEP 440 version with a version literal where packaging 26 and
// packaging 24 (which pip vendors) give different answers: `var OP "V"`
// (packaging 26 says false, 24 fails on the value) and `"V" OP var` with
// an ordering operator (26 says false or ==, 24 orders the strings).
// pipbake refuses those: the answer decides whether a pin is installed.
func notVersion(op, value, literal string, varLeft bool) bool {
	if op == "===" || strings.Contains(literal, ",") {
		return false
	}
	if !varLeft && op != "<" && op != "<=" && op != ">" && op != ">=" {
		return false
	}
	if _, err := pep440.ParseSpecifier(op + literal); err != nil {
		return false
	}
	_, err := pep440.Parse(value)
	return err != nil
}

// evalSet evaluates a comparison with "extras" or "dependency_groups",
// whose value is a comma-separated set of names.
func (n *cmpNode) evalSet(name, value string, varLeft bool) (bool, error) {
	if varLeft {
		return false, fmt.Errorf("%w: %s is a set; write \"name\" in %s or \"name\" not in %s", ErrUndefinedComparison, name, name, name)
	}
	member := false
	for _, item := range strings.Split(value, ",") {
		if item = strings.TrimSpace(item); item != "" && canonicalName(item) == n.left.text {
			member = true
		}
	}
	switch n.op {
	case "in":
		return member, nil
	case "not in":
		return !member, nil
	case "!=":
		return true, nil // a string is never equal to a set
	case "==", "<", "<=", ">", ">=":
		return false, nil
	}
	return false, fmt.Errorf("%w: %s %s %s", ErrUndefinedComparison, n.left.describe(), n.op, name)
}

func (o operand) describe() string {
	if o.isVar {
		return o.text
	}
	return quote(o.text)
}
