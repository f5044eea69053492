package marker

import (
	"fmt"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Operator precedence levels used when printing.
const (
	precOr = iota
	precAnd
)

type node interface {
	eval(env Env) (bool, error)
	write(b *strings.Builder, parentPrec int)
}

// boolNode is "left and right" or "left or right".
type boolNode struct {
	or          bool
	left, right node
}

// eval evaluates both sides even when the result is already known, so that
// a variable missing from env is reported no matter where it appears.
func (n *boolNode) eval(env Env) (bool, error) {
	l, err := n.left.eval(env)
	if err != nil {
		return false, err
	}
	r, err := n.right.eval(env)
	if err != nil {
		return false, err
	}
	if n.or {
		return l || r, nil
	}
	return l && r, nil
}

func (n *boolNode) write(b *strings.Builder, parentPrec int) {
	prec, word := precAnd, " and "
	if n.or {
		prec, word = precOr, " or "
	}
	if prec < parentPrec {
		b.WriteByte('(')
	}
	n.left.write(b, prec)
	b.WriteString(word)
	n.right.write(b, prec)
	if prec < parentPrec {
		b.WriteByte(')')
	}
}

// operand is a variable name or a literal string.
type operand struct {
	text  string
	isVar bool
}

func (o operand) isSet() bool {
	return o.isVar && (o.text == "extras" || o.text == "dependency_groups")
}

func (o operand) value(env Env) (string, error) {
	if !o.isVar {
		return o.text, nil
	}
	v, ok := env[o.text]
	if !ok {
		switch o.text {
		case "extra", "extras", "dependency_groups":
			return "", nil
		}
		return "", fmt.Errorf("%w: %s", ErrUndefined, o.text)
	}
	return v, nil
}

func (o operand) write(b *strings.Builder) {
	switch {
	case o.isVar:
		b.WriteString(o.text)
	case strings.Contains(o.text, `"`):
		b.WriteString("'" + o.text + "'")
	default:
		b.WriteString(`"` + o.text + `"`)
	}
}

// cmpNode is a single comparison such as python_version < "3.11".
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

func (n *cmpNode) eval(env Env) (bool, error) {
	l, err := n.left.value(env)
	if err != nil {
		return false, err
	}
	r, err := n.right.value(env)
	if err != nil {
		return false, err
	}
	switch {
	case n.left.isSet() || n.right.isSet():
		// Sets only support `"name" in extras` and `"name" not in extras`;
		// the specification says other comparisons are false.
		if !n.right.isSet() || n.left.isSet() || (n.op != "in" && n.op != "not in") {
			return false, nil
		}
		member := false
		for _, item := range strings.Split(r, ",") {
			if item = strings.TrimSpace(item); item != "" && pyname.Normalize(item) == pyname.Normalize(l) {
				member = true
			}
		}
		return member == (n.op == "in"), nil
	case n.left.isVar && n.left.text == "extra" || n.right.isVar && n.right.text == "extra":
		// PEP 685: extras compare normalized; only == and != are defined.
		l, r = pyname.Normalize(l), pyname.Normalize(r)
		switch n.op {
		case "==":
			return l == r, nil
		case "!=":
			return l != r, nil
		}
		return false, nil
	}
	return compare(l, n.op, r), nil
}

// compare applies op to two values: as PEP 440 versions when l is a version
// and op+r is a valid version specifier, as strings otherwise.
func compare(l, op, r string) bool {
	if op != "in" && op != "not in" && !strings.Contains(r, ",") {
		if lv, err := pep440.Parse(l); err == nil {
			if spec, err := pep440.ParseSpecifier(op + r); err == nil {
				return spec.Contains(lv)
			}
		}
	}
	switch op {
	case "==", "~=":
		return l == r
	case "===":
		return strings.EqualFold(l, r)
	case "!=":
		return l != r
	case "<":
		return l < r
	case "<=":
		return l <= r
	case ">":
		return l > r
	case ">=":
		return l >= r
	case "in":
		return strings.Contains(r, l)
	case "not in":
		return !strings.Contains(r, l)
	}
	return false
}
