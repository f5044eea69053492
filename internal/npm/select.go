package npm

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// SelectOptions say which packages of a lock a set installs.
type SelectOptions struct {
	// IncludeDev keeps the dev dependencies (npm ci without --omit=dev).
	IncludeDev bool
}

// Selection is what a set installs from its lock for one target.
type Selection struct {
	Lock    *Lock
	Runtime *Runtime
	// Packages are the entries laid out (links, bundled packages and the
	// project's own folders included), sorted by path.
	Packages []*Package
	// Skipped are the entries left out for the target, with the reason
	// (dev dependencies are left out silently).
	Skipped []Skip
	// Engines lists packages whose "engines" the target's node does not
	// satisfy: npm warns of them (EBADENGINE) and installs them anyway.
	Engines []string
	graph   *graph
}

// Skip is a package left out.
type Skip struct {
	Package *Package
	Reason  string
}

// Select chooses the packages to lay out for the target's node, as
// `npm ci` does: dev dependencies only with IncludeDev; a package whose
// "os", "cpu" or "libc" excludes the target is left out when optional,
// with every package only it needs (npm's optional set), and fails the
// selection otherwise; "engines" mismatches are listed. The target's
// platform is the probed node's, never this machine's.
func (l *Lock) Select(rt *Runtime, opts SelectOptions) (*Selection, error) {
	if rt == nil {
		return nil, fmt.Errorf("select packages of %s: no target runtime", l.Path)
	}
	g := newGraph(l)
	s := &Selection{Lock: l, Runtime: rt, graph: g}
	omitted := map[*Package]string{}
	for _, p := range l.Packages {
		if p.Dev && !opts.IncludeDev {
			omitted[p] = "dev"
		}
	}
	var refused []string
	var failed []*Package
	for _, p := range l.Packages {
		if omitted[p] != "" {
			continue
		}
		if why := platformMismatch(p, rt); why != "" {
			optional := p.Optional || (p.DevOptional && !opts.IncludeDev)
			if !optional {
				refused = append(refused, fmt.Sprintf("%s:%d: %s is %s, and it is not optional", l.Path, p.Line, p.Label(), why))
				continue
			}
			omitted[p] = why
			failed = append(failed, p)
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%d packages of %s do not run on the target, %s:\n%s", len(refused), l.Path, rt, strings.Join(refused, "\n"))
	}
	for _, p := range failed {
		for q := range g.optionalSet(p) {
			if q != p && omitted[q] == "" && q != l.Root {
				omitted[q] = "needed only by " + p.ID() + ", which is left out"
			}
		}
	}
	// Packages inside the folder of one left out go with it.
	for _, p := range l.Packages {
		if omitted[p] != "" {
			continue
		}
		for dir := parentPackage(p.Path); dir != ""; dir = parentPackage(dir) {
			if q := l.byPath[dir]; q != nil && omitted[q] != "" {
				omitted[p] = "inside " + q.Path + ", which is left out"
				break
			}
		}
	}
	for _, p := range l.Packages {
		switch why := omitted[p]; why {
		case "":
			s.Packages = append(s.Packages, p)
		case "dev":
		default:
			s.Skipped = append(s.Skipped, Skip{Package: p, Reason: why})
		}
	}
	nodeV, verr := ParseVersion(rt.Version)
	for _, p := range append([]*Package{l.Root}, s.Packages...) {
		want, ok := p.Engines["node"]
		if !ok || p.Link || verr != nil { // no version: a target described, not probed
			continue
		}
		r, err := ParseRange(want)
		switch {
		case err != nil:
			s.Engines = append(s.Engines, fmt.Sprintf("%s wants node %s, which npm cannot read either", p.Label(), quote(want)))
		case !r.Contains(nodeV):
			s.Engines = append(s.Engines, fmt.Sprintf("%s wants node %s; the target's is %s", p.Label(), want, rt.Version))
		}
	}
	return s, nil
}

// platformMismatch says how a package's os, cpu or libc excludes the
// target ("" when it does not), with npm-install-checks' rules: any
// "!x" that names the target excludes it; otherwise a list with plain
// names must name it. libc is checked only where the package names one,
// and a target without a libc (not Linux) fails it.
func platformMismatch(p *Package, rt *Runtime) string {
	var why []string
	if p.OS != nil && !checkList(rt.Platform, p.OS) {
		why = append(why, "os "+strings.Join(p.OS, ","))
	}
	if p.CPU != nil && !checkList(rt.Arch, p.CPU) {
		why = append(why, "cpu "+strings.Join(p.CPU, ","))
	}
	if p.Libc != nil && (rt.Libc == "" || !checkList(rt.Libc, p.Libc)) {
		why = append(why, "libc "+strings.Join(p.Libc, ","))
	}
	if len(why) == 0 {
		return ""
	}
	return "for " + strings.Join(why, ", ") + " (the target is " + rt.Platform + " " + rt.Arch + libcSuffix(rt) + ")"
}

func libcSuffix(rt *Runtime) string {
	if rt.Libc == "" {
		return ""
	}
	return " " + rt.Libc
}

func checkList(value string, list []string) bool {
	if len(list) == 1 && list[0] == "any" {
		return true
	}
	negated, match := 0, false
	for _, e := range list {
		if t, neg := strings.CutPrefix(e, "!"); neg {
			negated++
			if value == t {
				return false
			}
		} else if value == e {
			match = true
		}
	}
	return match || negated == len(list)
}

// Edge is one dependency of a package and the entry it resolves to.
type Edge struct {
	Name string `json:"name"`
	// Range is what the package asked for.
	Range string `json:"range"`
	// Type is "prod", "optional", "peer", "peerOptional" or "dev".
	Type string `json:"type"`
	// Path is the entry Node's resolution finds ("" when none: an
	// optional or peer dependency not installed).
	Path string `json:"path,omitempty"`
}

// Dependencies lists a package's dependencies, resolved as node
// resolves require() from the package's folder, sorted by name.
func (s *Selection) Dependencies(p *Package) []Edge {
	var out []Edge
	for _, e := range s.graph.out[s.graph.real(p)] {
		ed := Edge{Name: e.name, Range: e.spec, Type: e.typ}
		if e.to != nil {
			ed.Path = e.to.Path
		}
		out = append(out, ed)
	}
	return out
}

// graph is the lock's dependency graph: each package's dependencies
// resolved to entries through node_modules folders, as Node resolves them.
type graph struct {
	l   *Lock
	out map[*Package][]*dep
	in  map[*Package][]*dep
}

type dep struct {
	from, to   *Package // to is nil when nothing resolves
	name, spec string
	typ        string
	optional   bool
}

func newGraph(l *Lock) *graph {
	g := &graph{l: l, out: map[*Package][]*dep{}, in: map[*Package][]*dep{}}
	for _, p := range append([]*Package{l.Root}, l.Packages...) {
		if p.Link {
			continue // a link's dependencies are its target's
		}
		add := func(m map[string]string, typ string, optional bool) {
			names := make([]string, 0, len(m))
			for n := range m {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				d := &dep{from: p, name: n, spec: m[n], typ: typ, optional: optional}
				if typ == "peer" && p.PeerOptional[n] {
					d.typ, d.optional = "peerOptional", true
				}
				d.to = g.resolve(p.Path, n)
				g.out[p] = append(g.out[p], d)
				if d.to != nil {
					g.in[d.to] = append(g.in[d.to], d)
				}
			}
		}
		add(p.Dependencies, "prod", false)
		add(p.OptionalDependencies, "optional", true)
		add(p.PeerDependencies, "peer", false)
		if p == l.Root {
			add(p.DevDependencies, "dev", false)
		}
	}
	for p := range g.out {
		sort.SliceStable(g.out[p], func(i, j int) bool { return g.out[p][i].name < g.out[p][j].name })
	}
	return g
}

// resolve finds the entry a package at dir gets for require(name): the
// nearest node_modules/name up the folders, a link followed to its
// target.
func (g *graph) resolve(dir, name string) *Package {
	for {
		cand := path.Join(dir, "node_modules", name)
		if p := g.l.byPath[cand]; p != nil {
			return g.real(p)
		}
		if dir == "" {
			return nil
		}
		dir = path.Dir(dir)
		if dir == "." {
			dir = ""
		}
	}
}

// real follows a link to its target's entry, when the lock has one.
func (g *graph) real(p *Package) *Package {
	if p != nil && p.Link {
		if t := g.l.byPath[p.LinkTarget()]; t != nil {
			return t
		}
	}
	return p
}

// optionalSet is arborist's optional set of a failed optional package:
// it, every package that depends on it other than optionally (up to the
// optional edges), and then every package they depend on that nothing
// outside the set depends on.
func (g *graph) optionalSet(n *Package) map[*Package]bool {
	set := map[*Package]bool{n: true}
	queue := []*Package{n}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, e := range g.in[p] {
			if !e.optional && !set[e.from] {
				set[e.from] = true
				queue = append(queue, e.from)
			}
		}
	}
	filter := func(e *dep) bool { return !set[e.to] }
	deps := map[*Package]bool{}
	var order []*Package
	for p := range set {
		deps[p] = true
		order = append(order, p)
	}
	for i := 0; i < len(order); i++ {
		for _, e := range g.out[order[i]] {
			if e.to != nil && filter(e) && !deps[e.to] {
				deps[e.to] = true
				order = append(order, e.to)
			}
		}
	}
	for changed := true; changed && len(deps) > 0; {
		changed = false
		for p := range deps {
			for _, e := range g.in[p] {
				if !deps[e.from] && filter(e) {
					changed = true
					delete(deps, p)
					break
				}
			}
		}
	}
	return deps
}
