// Package marker parses and evaluates PEP 508 environment markers such as
// `python_version < "3.11" and sys_platform == "linux"`, as pypa/packaging
// 26 does (its own test tables are a conformance test here).
//
// Comparisons on the version variables (python_version,
// python_full_version, implementation_version, platform_release) use PEP
// 440 semantics when the operator and the other side form a valid version
// specifier. Everything else compares strings: ==, != and "in" as in
// Python, <= and >= as ==, < and > as false; ~= and === on strings are an
// error. The "extra" variable compares PEP 685-normalized, and the
// lock-file variables "extras" and "dependency_groups" (PEP 751) are sets
// that only support `"name" in extras` and `"name" not in extras`.
//
// pipbake differs from packaging 26 in two places, both to refuse rather
// than guess: a version variable whose value is not a PEP 440 version
// compared with a version is an error (ErrNotVersion; packaging 24, which
// pip vendors, fails there too, packaging 26 answers false), and a
// comparison between two literals or two variables is a syntax error
// (packaging compares a variable with the other variable's name).
//
// Parsing is bounded: at most MaxDepth nested parentheses.
package marker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Env holds the values of marker variables for one target environment.
//
// The keys are os_name, sys_platform, platform_machine,
// platform_python_implementation, platform_release, platform_system,
// platform_version, python_version, python_full_version,
// implementation_name and implementation_version. Evaluating a marker that
// references one of these when it is absent is an error (ErrUndefined).
//
// "extra" is the extra being evaluated; "extras" and "dependency_groups"
// are comma-separated lists of the selected names. When absent, the
// Context decides whether they exist (see Context).
type Env map[string]string

// Context says where a marker is evaluated, which decides the variables
// extra, extras and dependency_groups have when the Env does not set them
// (packaging's evaluate context).
type Context int

const (
	// Metadata is a distribution's Requires-Dist, and how pip evaluates
	// the markers of a requirements file: "extra" is "" unless set;
	// "extras" and "dependency_groups" are undefined unless set.
	Metadata Context = iota
	// LockFile is a pylock.toml (PEP 751): "extras" and
	// "dependency_groups" are empty sets unless set; "extra" is undefined.
	LockFile
	// Requirement is any other use: none of the three is defined unless set.
	Requirement
)

func (c Context) String() string {
	switch c {
	case Metadata:
		return "metadata"
	case LockFile:
		return "lock file"
	case Requirement:
		return "requirement"
	}
	return "context(" + strconv.Itoa(int(c)) + ")"
}

// ErrUndefined is wrapped when a marker references a variable the Env lacks.
var ErrUndefined = errors.New("marker variable not set in the environment")

// ErrUndefinedComparison is wrapped when a comparison has no meaning, such
// as ~= between strings or == on the set "extras".
var ErrUndefinedComparison = errors.New("undefined comparison")

// ErrNotVersion is wrapped when a version variable whose value is not a
// PEP 440 version (a Linux kernel release such as "6.5.0-1025-azure") is
// compared with a version.
var ErrNotVersion = errors.New("the variable's value is not a PEP 440 version")

// MaxDepth is the deepest nesting of parentheses Parse accepts.
const MaxDepth = 100

// Variables lists the marker variables PEP 508 and PEP 751 define.
var Variables = []string{
	"os_name", "sys_platform", "platform_machine", "platform_python_implementation",
	"platform_release", "platform_system", "platform_version", "python_version",
	"python_full_version", "implementation_name", "implementation_version",
	"extra", "extras", "dependency_groups",
}

// aliases are the legacy spellings (PEP 345, setuptools) still accepted.
var aliases = map[string]string{
	"os.name":                        "os_name",
	"sys.platform":                   "sys_platform",
	"platform.version":               "platform_version",
	"platform.machine":               "platform_machine",
	"platform.python_implementation": "platform_python_implementation",
	"python_implementation":          "platform_python_implementation",
}

// versionVariables are compared as PEP 440 versions.
var versionVariables = map[string]bool{
	"python_version": true, "python_full_version": true,
	"implementation_version": true, "platform_release": true,
}

// setVariables hold sets of names.
var setVariables = map[string]bool{"extras": true, "dependency_groups": true}

// SyntaxError describes why a marker could not be parsed.
type SyntaxError struct {
	Marker string // the full marker text
	Pos    int    // byte offset of the problem
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid marker %s: %s at position %d", excerpt(e.Marker, e.Pos), e.Msg, e.Pos+1)
}

// maxQuoted bounds how much of a marker a message repeats.
const maxQuoted = 120

// quote delimits marker text for messages with a quote character it does
// not contain, so the usual double-quoted values stay readable. Long text
// is cut (see excerpt).
func quote(s string) string {
	return excerpt(s, 0)
}

// excerpt quotes s, or for a long s a window of it around byte pos, so
// that a hostile megabyte-long marker is not echoed whole.
func excerpt(s string, pos int) string {
	if len(s) <= maxQuoted && utf8.ValidString(s) && !hasControl(s) {
		switch {
		case !strings.Contains(s, "'"):
			return "'" + s + "'"
		case !strings.Contains(s, `"`):
			return `"` + s + `"`
		}
		return strconv.Quote(s)
	}
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	start := max(0, min(pos-maxQuoted/2, len(s)-maxQuoted))
	end := start + maxQuoted
	// Align to whole characters (at most UTFMax-1 bytes: the text may not
	// be UTF-8 at all).
	for n := 0; n < utf8.UTFMax-1 && start > 0 && !utf8.RuneStart(s[start]); n++ {
		start--
	}
	for n := 0; n < utf8.UTFMax-1 && end < len(s) && !utf8.RuneStart(s[end]); n++ {
		end++
	}
	out := strconv.Quote(s[start:end])
	if start > 0 {
		out = "..." + out
	}
	if end < len(s) {
		out += "..."
	}
	return fmt.Sprintf("%s (%d bytes)", out, len(s))
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

// Expr is a parsed marker expression. The zero Expr is the empty marker: it
// always evaluates to true and prints as "".
type Expr struct {
	root node
}

// Parse parses a marker expression.
func Parse(s string) (Expr, error) {
	if !utf8.ValidString(s) {
		return Expr{}, &SyntaxError{Marker: s, Pos: invalidUTF8(s), Msg: "invalid UTF-8"}
	}
	p := &parser{src: s}
	if err := p.advance(); err != nil {
		return Expr{}, err
	}
	if p.tok.kind == tokEOF {
		return Expr{}, p.errorAt(p.tok, "empty marker")
	}
	n, err := p.parseOr(0)
	if err != nil {
		return Expr{}, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return Expr{}, p.errorAt(t, fmt.Sprintf("unexpected %s", t.describe()))
	}
	return Expr{root: n}, nil
}

func invalidUTF8(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return 0
}

// Evaluate parses s and evaluates it against env in the Metadata context.
func Evaluate(s string, env Env) (bool, error) {
	return EvaluateIn(s, env, Metadata)
}

// EvaluateIn parses s and evaluates it against env in ctx.
func EvaluateIn(s string, env Env, ctx Context) (bool, error) {
	e, err := Parse(s)
	if err != nil {
		return false, err
	}
	return e.EvaluateIn(env, ctx)
}

// Evaluate reports whether the marker holds in env, in the Metadata
// context (packaging's default).
func (e Expr) Evaluate(env Env) (bool, error) {
	return e.EvaluateIn(env, Metadata)
}

// EvaluateIn reports whether the marker holds in env, evaluated in ctx.
// Every comparison is evaluated, so that an undefined variable is reported
// wherever it appears.
func (e Expr) EvaluateIn(env Env, ctx Context) (bool, error) {
	if e.root == nil {
		return true, nil
	}
	ok, err := e.root.eval(&evalState{env: env, ctx: ctx})
	if err != nil {
		return false, fmt.Errorf("evaluating marker %s: %w", quote(e.String()), err)
	}
	return ok, nil
}

// String renders the marker in a canonical form: single spaces, values in
// double quotes (single quotes when the value holds a double quote),
// extra names normalized, and parentheses only where precedence needs
// them. It parses back to the same marker.
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
			for _, item := range n.items {
				walk(item)
			}
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
