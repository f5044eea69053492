package npm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a semantic version (semver.org 2.0), as node-semver reads
// it: major.minor.patch, a pre-release, build metadata (ignored).
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string
}

var versionRe = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$`)

// ParseVersion reads a full version ("20.19.2", "v1.2.3-rc.1").
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(s)
	if len(s) > 256 {
		return Version{}, fmt.Errorf("version is longer than 256 bytes")
	}
	m := versionRe.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%s is not a semantic version", quote(s))
	}
	var v Version
	var err error
	for i, dst := range []*uint64{&v.Major, &v.Minor, &v.Patch} {
		if *dst, err = strconv.ParseUint(m[i+1], 10, 53); err != nil {
			return Version{}, fmt.Errorf("%s: number too large", quote(s))
		}
	}
	if m[4] != "" {
		v.Pre = strings.Split(m[4], ".")
	}
	return v, nil
}

func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	return s
}

// Compare orders versions by semver precedence.
func Compare(a, b Version) int {
	for _, p := range [][2]uint64{{a.Major, b.Major}, {a.Minor, b.Minor}, {a.Patch, b.Patch}} {
		if p[0] != p[1] {
			if p[0] < p[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a.Pre) == 0 && len(b.Pre) == 0:
		return 0
	case len(a.Pre) == 0:
		return 1
	case len(b.Pre) == 0:
		return -1
	}
	for i := 0; i < len(a.Pre) && i < len(b.Pre); i++ {
		x, y := a.Pre[i], b.Pre[i]
		if x == y {
			continue
		}
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		switch {
		case ex == nil && ey == nil:
			if nx < ny {
				return -1
			}
			return 1
		case ex == nil:
			return -1
		case ey == nil:
			return 1
		case x < y:
			return -1
		default:
			return 1
		}
	}
	switch {
	case len(a.Pre) < len(b.Pre):
		return -1
	case len(a.Pre) > len(b.Pre):
		return 1
	}
	return 0
}

// Range is a node-semver range ("^14.17.0 || >=16", ">= 0.6",
// "1.2 - 2"), read with includePrerelease as npm checks engines: a
// pre-release satisfies a range like any other version.
type Range struct {
	sets [][]comparator // any set whose every comparator holds
}

type comparator struct {
	op string // "<", "<=", ">", ">=", "="; "" matches anything
	v  Version
}

const maxRangeBytes = 1024

var (
	hyphenRe = regexp.MustCompile(`^\s*(\S+)\s+-\s+(\S+)\s*$`)
	opTrimRe = regexp.MustCompile(`(<=|>=|<|>|=)\s+`)
	caretRe  = regexp.MustCompile(`(~>?|\^)\s+`)
	partRe   = regexp.MustCompile(`^v?(x|X|\*|0|[1-9]\d*)(?:\.(x|X|\*|0|[1-9]\d*)(?:\.(x|X|\*|0|[1-9]\d*)(?:-?((?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*))*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?)?$`)
)

// ParseRange reads a range.
func ParseRange(s string) (Range, error) {
	if len(s) > maxRangeBytes {
		return Range{}, fmt.Errorf("range is longer than %d bytes", maxRangeBytes)
	}
	var r Range
	for _, alt := range strings.Split(s, "||") {
		set, err := parseSet(strings.TrimSpace(alt))
		if err != nil {
			return Range{}, fmt.Errorf("range %s: %w", quote(s), err)
		}
		r.sets = append(r.sets, set)
	}
	return r, nil
}

func parseSet(s string) ([]comparator, error) {
	if m := hyphenRe.FindStringSubmatch(s); m != nil {
		lo, err := parsePartial(m[1])
		if err != nil {
			return nil, err
		}
		hi, err := parsePartial(m[2])
		if err != nil {
			return nil, err
		}
		var out []comparator
		if !lo.x[0] {
			from := lo.floor()
			if lo.x[2] {
				from.Pre = lowest // includePrerelease: x-ranges start at -0
			}
			out = append(out, comparator{">=", from})
		}
		switch {
		case hi.x[0]:
		case hi.x[1]:
			out = append(out, comparator{"<", Version{Major: hi.n[0] + 1, Pre: []string{"0"}}})
		case hi.x[2]:
			out = append(out, comparator{"<", Version{Major: hi.n[0], Minor: hi.n[1] + 1, Pre: []string{"0"}}})
		default:
			out = append(out, comparator{"<=", hi.floor()})
		}
		if len(out) == 0 {
			out = append(out, comparator{})
		}
		return out, nil
	}
	// ">= 1.2" is ">=1.2"; "~ 1", "^ 1" likewise.
	s = opTrimRe.ReplaceAllString(s, "$1")
	s = caretRe.ReplaceAllString(s, "$1")
	var out []comparator
	for _, word := range strings.Fields(s) {
		cs, err := parseComparator(word)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	if len(out) == 0 {
		out = append(out, comparator{}) // "" is any version
	}
	return out, nil
}

// partial is a version some of whose parts may be x.
type partial struct {
	n   [3]uint64
	x   [3]bool // part i is x (or missing)
	pre []string
}

func parsePartial(s string) (partial, error) {
	s = strings.TrimLeft(s, "=v")
	if s == "" {
		return partial{x: [3]bool{true, true, true}}, nil
	}
	m := partRe.FindStringSubmatch("v" + s)
	if m == nil {
		return partial{}, fmt.Errorf("%s is not a version", quote(s))
	}
	var p partial
	for i := 0; i < 3; i++ {
		switch part := m[i+1]; part {
		case "", "x", "X", "*":
			p.x[i] = true
		default:
			n, err := strconv.ParseUint(part, 10, 53)
			if err != nil {
				return partial{}, fmt.Errorf("%s: number too large", quote(s))
			}
			p.n[i] = n
		}
		if i > 0 && p.x[i-1] {
			p.x[i] = true
		}
	}
	if m[4] != "" && !p.x[2] {
		p.pre = strings.Split(m[4], ".")
	}
	return p, nil
}

func (p partial) floor() Version {
	v := Version{Pre: p.pre}
	if !p.x[0] {
		v.Major = p.n[0]
	}
	if !p.x[1] {
		v.Minor = p.n[1]
	}
	if !p.x[2] {
		v.Patch = p.n[2]
	}
	return v
}

var lowest = []string{"0"}

func parseComparator(w string) ([]comparator, error) {
	var op string
	for _, o := range []string{"~>", ">=", "<=", "~", "^", ">", "<", "="} {
		if strings.HasPrefix(w, o) {
			op, w = o, w[len(o):]
			break
		}
	}
	p, err := parsePartial(w)
	if err != nil {
		return nil, err
	}
	lo := p.floor()
	anyX := p.x[0] || p.x[1] || p.x[2]
	// includePrerelease: an x-range (caret too) starts at -0.
	lo0 := lo
	if anyX {
		lo0.Pre = lowest
	}
	switch op {
	case "~", "~>":
		switch {
		case p.x[0]:
			return []comparator{{}}, nil
		case p.x[1]:
			return []comparator{{">=", lo}, {"<", Version{Major: p.n[0] + 1, Pre: lowest}}}, nil
		}
		return []comparator{{">=", lo}, {"<", Version{Major: p.n[0], Minor: p.n[1] + 1, Pre: lowest}}}, nil
	case "^":
		switch {
		case p.x[0]:
			return []comparator{{}}, nil
		case p.x[1]:
			return []comparator{{">=", lo0}, {"<", Version{Major: p.n[0] + 1, Pre: lowest}}}, nil
		case p.n[0] > 0:
			return []comparator{{">=", lo0}, {"<", Version{Major: p.n[0] + 1, Pre: lowest}}}, nil
		case p.x[2] || p.n[1] > 0:
			return []comparator{{">=", lo0}, {"<", Version{Minor: p.n[1] + 1, Pre: lowest}}}, nil
		}
		return []comparator{{">=", lo}, {"<", Version{Patch: p.n[2] + 1, Pre: lowest}}}, nil
	}
	if !anyX {
		if op == "" {
			op = "="
		}
		return []comparator{{op, lo}}, nil
	}
	if p.x[0] {
		if op == "<" || op == ">" {
			return []comparator{{"<", Version{Pre: lowest}}}, nil // nothing
		}
		return []comparator{{}}, nil
	}
	switch op {
	case "", "=":
		if p.x[1] {
			return []comparator{{">=", lo0}, {"<", Version{Major: p.n[0] + 1, Pre: lowest}}}, nil
		}
		return []comparator{{">=", lo0}, {"<", Version{Major: p.n[0], Minor: p.n[1] + 1, Pre: lowest}}}, nil
	case ">":
		if p.x[1] {
			return []comparator{{">=", Version{Major: p.n[0] + 1, Pre: lowest}}}, nil
		}
		return []comparator{{">=", Version{Major: p.n[0], Minor: p.n[1] + 1, Pre: lowest}}}, nil
	case "<=":
		if p.x[1] {
			return []comparator{{"<", Version{Major: p.n[0] + 1, Pre: lowest}}}, nil
		}
		return []comparator{{"<", Version{Major: p.n[0], Minor: p.n[1] + 1, Pre: lowest}}}, nil
	case "<":
		return []comparator{{"<", Version{Major: lo.Major, Minor: lo.Minor, Patch: lo.Patch, Pre: lowest}}}, nil
	}
	return []comparator{{">=", Version{Major: lo.Major, Minor: lo.Minor, Patch: lo.Patch, Pre: lowest}}}, nil // ">="
}

// Contains reports whether v satisfies the range.
func (r Range) Contains(v Version) bool {
	for _, set := range r.sets {
		ok := true
		for _, c := range set {
			if !c.test(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (c comparator) test(v Version) bool {
	if c.op == "" {
		return true
	}
	n := Compare(v, c.v)
	switch c.op {
	case "<":
		return n < 0
	case "<=":
		return n <= 0
	case ">":
		return n > 0
	case ">=":
		return n >= 0
	}
	return n == 0
}
