package fetch

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind classifies why a pin could not be fetched.
type Kind string

// The kinds of problem, most telling first.
const (
	HashMismatch   Kind = "hash mismatch"
	AccessDenied   Kind = "access denied"
	Unreachable    Kind = "unreachable"
	MalformedIndex Kind = "malformed index"
	NoMatchingTags Kind = "no wheel for the target"
	SdistOnly      Kind = "sdist only"
	NotFound       Kind = "not found"
	Failed         Kind = "failed" // anything else: disk errors, locks that disagree
)

var kindOrder = []Kind{HashMismatch, AccessDenied, Unreachable, MalformedIndex, NoMatchingTags, SdistOnly, NotFound, Failed}

// Attempt is what one source said about a pin.
type Attempt struct {
	Source string `json:"source"` // redacted
	Kind   Kind   `json:"kind"`
	Detail string `json:"detail"` // redacted
}

// Problem is why one pin could not be fetched.
type Problem struct {
	Pin      string    `json:"pin"`   // name==version
	Where    []string  `json:"where"` // lock file:line of every pin asking for it
	Kind     Kind      `json:"kind"`
	Attempts []Attempt `json:"attempts"`
}

// Error is what Fetch returns when some pins could not be fetched. Out was
// left as it was.
type Error struct {
	Out      string    `json:"out"`
	Problems []Problem `json:"problems"`
}

// Is lets errors.Is(err, fetch.SdistOnly) and the like find a kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && slices.ContainsFunc(e.Problems, func(p Problem) bool { return p.Kind == k })
}

// Error implements error; Kind is an error so errors.Is can match it.
func (k Kind) Error() string { return string(k) }

func (p Problem) where() string {
	return p.Pin + " (" + strings.Join(p.Where, ", ") + ")"
}

func (e *Error) Error() string {
	var b strings.Builder
	var sdists []Problem
	for _, p := range e.Problems {
		if p.Kind == SdistOnly {
			sdists = append(sdists, p)
		}
	}
	fmt.Fprintf(&b, "fetch: %d of the pins could not be fetched; %s was left unchanged", len(e.Problems), e.Out)
	// Pins that failed the same way (a source down for all of them) are
	// listed together, with the reason once.
	type group struct {
		pins     []string
		problem  Problem
		attempts string
	}
	var groups []*group
	for _, p := range e.Problems {
		if p.Kind == SdistOnly {
			continue
		}
		var a strings.Builder
		for _, at := range p.Attempts {
			fmt.Fprintf(&a, "\n      %s: %s", at.Source, at.Detail)
		}
		i := slices.IndexFunc(groups, func(g *group) bool { return g.problem.Kind == p.Kind && g.attempts == a.String() })
		if i < 0 {
			groups = append(groups, &group{problem: p, attempts: a.String()})
			i = len(groups) - 1
		}
		groups[i].pins = append(groups[i].pins, p.where())
	}
	for _, g := range groups {
		if len(g.pins) == 1 {
			fmt.Fprintf(&b, "\n  %s: %s%s", g.pins[0], headline(g.problem), g.attempts)
			continue
		}
		fmt.Fprintf(&b, "\n  %d pins: %s:", len(g.pins), headline(g.problem))
		for _, p := range g.pins {
			fmt.Fprintf(&b, "\n    %s", p)
		}
		b.WriteString(g.attempts)
	}
	if len(sdists) > 0 {
		fmt.Fprintf(&b, "\n  %d pins have only source distributions (sdists), and pipbake fetches wheels only:", len(sdists))
		for _, p := range sdists {
			fmt.Fprintf(&b, "\n    %s", p.where())
			for _, a := range p.Attempts {
				if a.Kind == SdistOnly {
					fmt.Fprintf(&b, ": %s", a.Detail)
					break
				}
			}
		}
		b.WriteString("\n  Provide a wheel for each: build it for the target (pip wheel --no-deps --no-binary :all: NAME==VERSION -w DIR, on the target's platform or in a manylinux container), " +
			"add its sha256 to the lock (pip-compile --generate-hashes --find-links DIR, or uv pip compile --generate-hashes --find-links DIR), " +
			"and fetch with --source DIR (or publish it to your index or bucket).")
	}
	return b.String()
}

func headline(p Problem) string {
	switch p.Kind {
	case NotFound:
		return "not found in any source"
	case NoMatchingTags:
		return "no wheel in any source fits the target"
	case HashMismatch:
		return "no source served a file with a hash the lock allows"
	case Unreachable:
		return "a source could not be reached"
	case AccessDenied:
		return "access denied"
	case MalformedIndex:
		return "a source's index page is malformed"
	}
	return string(p.Kind)
}

// worst picks the kind of a problem from its attempts.
func worst(attempts []Attempt) Kind {
	best := len(kindOrder) - 1
	for _, a := range attempts {
		if i := slices.Index(kindOrder, a.Kind); i >= 0 && i < best {
			best = i
		}
	}
	if len(attempts) == 0 {
		return NotFound
	}
	return kindOrder[best]
}

// sourceError is a problem with a source as a whole (it cannot be reached,
// it refuses us, its pages are malformed): later pins skip it.
type sourceError struct {
	kind Kind
	msg  string
	err  error
}

func (e *sourceError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *sourceError) Unwrap() error { return e.err }

func kindOf(err error) Kind {
	var se *sourceError
	if errors.As(err, &se) {
		return se.kind
	}
	var me *mismatchError
	if errors.As(err, &me) {
		return HashMismatch
	}
	var st *statusError
	if errors.As(err, &st) {
		switch {
		case st.code == 401 || st.code == 403:
			return AccessDenied
		case st.code == 404 || st.code == 410:
			return NotFound
		case st.code >= 500 || st.code == 429:
			return Unreachable
		}
		return Failed
	}
	if ok, _, _ := retryable(err); ok {
		return Unreachable
	}
	return Failed
}

// mismatchError is a file whose sha256 the lock does not allow.
type mismatchError struct {
	file, got string
	what      string // what got is: "sha256" (default) or "integrity"
	want      []string
	loc       string // where it came from (redacted)
	locks     string // the pins' lock:line
}

func (e *mismatchError) Error() string {
	s := "served " + e.file
	if e.loc != "" {
		s += " (" + e.loc + ")"
	}
	what := e.what
	if what == "" {
		what = "sha256"
	}
	s += " with " + what + " " + e.got + "; the lock"
	if e.locks != "" {
		s += " (" + e.locks + ")"
	}
	return s + " allows " + strings.Join(e.want, ", ")
}
