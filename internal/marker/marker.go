// Package marker parses and evaluates PEP 508 environment markers such as
// `python_version < "3.11" and sys_platform == "linux"`.
//
// Comparisons use PEP 440 version semantics when the left value parses as a
// version and the operator with the right value forms a valid version
// specifier; otherwise they compare strings, and "in"/"not in" test for
// substrings. The "extra" variable is compared PEP 685-normalized, and the
// lock-file-only set variables "extras" and "dependency_groups" (PEP 751)
// support membership tests.
package marker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Env holds the values of marker variables for one target environment.
//
// The keys are os_name, sys_platform, platform_machine,
// platform_python_implementation, platform_release, platform_system,
// platform_version, python_version, python_full_version,
// implementation_name and implementation_version. Evaluating a marker that
// references one of these when it is absent is an error.
//
// Optional keys: "extra" (the extra being evaluated; treated as "" when
// absent), and "extras" and "dependency_groups", each a comma-separated list
// of the selected names (an empty set when absent).
type Env map[string]string

// ErrUndefined is wrapped when a marker references a variable the Env lacks.
var ErrUndefined = errors.New("marker variable not set in the environment")

// Variables lists the marker variables PEP 508 and PEP 751 define.
var Variables = []string{
	"os_name", "sys_platform", "platform_machine", "platform_python_implementation",
	"platform_release", "platform_system", "platform_version", "python_version",
	"python_full_version", "implementation_name", "implementation_version",
	"extra", "extras", "dependency_groups",
}

// legacy spellings from PEP 345 that are still accepted.
var aliases = map[string]string{
	"os.name":                        "os_name",
	"sys.platform":                   "sys_platform",
	"platform.version":               "platform_version",
	"platform.machine":               "platform_machine",
	"platform.python_implementation": "platform_python_implementation",
	"python_implementation":          "platform_python_implementation",
}

// SyntaxError describes why a marker could not be parsed.
type SyntaxError struct {
	Marker string // the full marker text
	Pos    int    // byte offset of the problem
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid marker %s: %s at position %d", quote(e.Marker), e.Msg, e.Pos+1)
}

// quote delimits marker text for messages with a quote character it does
// not contain, so the usual double-quoted values stay readable.
func quote(s string) string {
	switch {
	case !strings.Contains(s, "'"):
		return "'" + s + "'"
	case !strings.Contains(s, `"`):
		return `"` + s + `"`
	}
	return strconv.Quote(s)
}

// Expr is a parsed marker expression. The zero Expr is the empty marker: it
// always evaluates to true and prints as "".
type Expr struct {
	root node
}

// Parse parses a marker expression.
func Parse(s string) (Expr, error) {
	p := &parser{src: s}
	if err := p.lex(); err != nil {
		return Expr{}, err
	}
	if p.toks[0].kind == tokEOF {
		return Expr{}, p.errorAt(p.toks[0], "empty marker")
	}
	n, err := p.parseOr()
	if err != nil {
		return Expr{}, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return Expr{}, p.errorAt(t, fmt.Sprintf("unexpected %s", t.describe()))
	}
	return Expr{root: n}, nil
}

// Evaluate parses s and evaluates it against env.
func Evaluate(s string, env Env) (bool, error) {
	e, err := Parse(s)
	if err != nil {
		return false, err
	}
	return e.Evaluate(env)
}

// Evaluate reports whether the marker holds in env.
func (e Expr) Evaluate(env Env) (bool, error) {
	if e.root == nil {
		return true, nil
	}
	ok, err := e.root.eval(env)
	if err != nil {
		return false, fmt.Errorf("evaluating marker %s: %w", quote(e.String()), err)
	}
	return ok, nil
}

// String renders the marker in a canonical form: double-quoted values,
// single spaces, and parentheses only where precedence needs them.
func (e Expr) String() string {
	if e.root == nil {
		return ""
	}
	var b strings.Builder
	e.root.write(&b, precOr)
	return b.String()
}

// Variables returns the distinct variables the marker references, in order
// of first appearance.
func (e Expr) Variables() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(node)
	walk = func(n node) {
		switch n := n.(type) {
		case *boolNode:
			walk(n.left)
			walk(n.right)
		case *cmpNode:
			for _, o := range []operand{n.left, n.right} {
				if o.isVar && !seen[o.text] {
					seen[o.text] = true
					out = append(out, o.text)
				}
			}
		}
	}
	if e.root != nil {
		walk(e.root)
	}
	return out
}
