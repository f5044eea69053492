// Package resolve makes a lock from a wheelhouse: it pins the projects a
// folder of wheels holds — every one, or those asked for and what their
// Requires-Dist need — with the sha256 of every wheel of the chosen
// version, and writes them as hashed requirements or a PEP 751
// pylock.toml that pipbake's lock reader, pipbake install and
// `pip install --require-hashes --no-index --find-links` accept.
//
// It is not an index resolver: it only looks at what is in the folder.
// A project with one version there is that version; several versions must
// be narrowed to one by the requirements. Requires-Dist markers are
// evaluated with package marker: the requested extras are bound, and what
// depends on the target (python_version, sys_platform, ...) is either
// decided for a given target environment or carried into the pins'
// markers, so one lock serves every target the folder has wheels for. A
// project needed only under a marker and absent from the folder is left
// out with a note (the folder was built for targets that do not need
// it); an unconditional need the folder cannot meet is an error naming
// the requirement and what the folder has.
//
// When the chosen wheels cover several platforms (say manylinux x86_64
// and aarch64 wheels), a project whose wheels are all platform-specific
// and do not cover every one of them gets a marker naming those it does
// cover, so an install elsewhere skips it instead of failing.
package resolve

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Options are what to lock.
type Options struct {
	// Dir is the wheelhouse folder.
	Dir string
	// Requirements are the projects to pin, with their Requires-Dist
	// closure; none means every project in the folder.
	Requirements []Requirement
	// Constraints narrow the versions of projects the lock holds without
	// asking for them.
	Constraints []Requirement
	// Env, when set, is the one target the lock is for: markers are
	// decided for it and the pins carry none. Without it, what a marker
	// leaves to the target goes into the pins' markers.
	Env marker.Env
}

// Package is one pin of the lock.
type Package struct {
	// Name and Version as the wheels' METADATA spell them.
	Name, Version string
	// Marker is when the package is needed ("" for always).
	Marker string
	// Wheels are the version's wheels in the folder, by file name.
	Wheels []Wheel
	// RequiredBy names what asked for it: projects ("flask") and
	// requirements files ("-r requirements.in"), sorted.
	RequiredBy []string
}

// Key is the package's normalized name.
func (p Package) Key() string { return pyname.Normalize(p.Name) }

// Result is a lock.
type Result struct {
	// Dir is the wheelhouse folder.
	Dir string
	// Packages are sorted by normalized name.
	Packages []Package
	// Notes say what was left out or ignored, and why.
	Notes []string
}

// Error lists every problem that kept a lock from being made.
type Error struct {
	Dir      string
	Problems []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("lock from wheelhouse %s:\n  %s", e.Dir, strings.Join(e.Problems, "\n  "))
}

// everyProject is the From of the requirements made up to pin every
// project of the folder.
const everyProject = "the wheelhouse"

// node is a project, or one extra of it, in the graph of requirements.
type node struct{ key, extra string }

// constraint is a specifier some path puts on a project.
type constraint struct {
	req Requirement
	// by is who asks ("flask 3.1.3", "requirements.in:3"); via is the
	// project alone ("flask"), for the lock's comments.
	by, via string
	// root is set for requirements and constraints given in Options;
	// only for constraints, which ask for nothing.
	root, only bool
	clause     clause
}

// walk is one traversal of the graph with the versions chosen so far.
type walk struct {
	r       *resolver
	conds   map[node]*condition
	cons    map[string][]constraint
	queue   []item
	noExtra map[string]bool // "project\x00extra" noted as not provided
	errs    []string
}

type item struct {
	n node
	c clause
}

type resolver struct {
	opts   Options
	house  *house
	chosen map[string]*dist
	notes  []string
}

// Resolve makes the lock.
func Resolve(opts Options) (*Result, error) {
	if opts.Dir == "" {
		return nil, errors.New("lock: no wheelhouse folder")
	}
	h, err := scan(opts.Dir)
	if err != nil {
		return nil, err
	}
	if len(h.byKey) == 0 {
		return nil, &Error{Dir: opts.Dir, Problems: []string{"the folder has no wheels"}}
	}
	r := &resolver{opts: opts, house: h, chosen: map[string]*dist{}}
	roots := opts.Requirements
	if len(roots) == 0 {
		for _, key := range slices.Sorted(maps.Keys(h.byKey)) {
			roots = append(roots, Requirement{Name: key, From: everyProject})
		}
	}
	for key, ds := range h.byKey {
		if len(ds) == 1 {
			r.chosen[key] = ds[0]
		}
	}
	// Choose versions until no choice is left to make: each walk may
	// narrow a project to one version, whose requirements the next walk
	// follows.
	var w *walk
	for {
		w = r.walk(roots)
		if len(w.errs) > 0 {
			return nil, &Error{Dir: opts.Dir, Problems: w.errs}
		}
		progress, errs, ambiguous := r.choose(w)
		if len(errs) > 0 {
			return nil, &Error{Dir: opts.Dir, Problems: errs}
		}
		if progress {
			continue
		}
		if len(ambiguous) > 0 {
			return nil, &Error{Dir: opts.Dir, Problems: ambiguous}
		}
		break
	}
	return r.result(w)
}

// known is the environment markers are bound to for an extra.
func (r *resolver) known(extra string) marker.Env {
	env := marker.Env{}
	maps.Copy(env, r.opts.Env)
	env["extra"] = extra
	return env
}

// walk follows the requirements from the roots through every chosen
// version, recording when each project is needed and what constrains it.
func (r *resolver) walk(roots []Requirement) *walk {
	w := &walk{r: r, conds: map[node]*condition{}, cons: map[string][]constraint{}, noExtra: map[string]bool{}}
	for _, req := range roots {
		w.require(req, nil, req.From, true)
	}
	for len(w.queue) > 0 && len(w.errs) == 0 {
		it := w.queue[0]
		w.queue = w.queue[1:]
		w.visit(it)
	}
	for _, req := range r.opts.Constraints {
		if _, reached := w.conds[node{req.Key(), ""}]; !reached {
			continue
		}
		rest, value, decided, err := req.Marker.Bind(r.known(""))
		switch {
		case err != nil:
			w.errs = append(w.errs, fmt.Sprintf("%s: %s: %v", req.From, req, err))
		case decided && !value:
		default:
			var c clause
			if !decided {
				c = c.and(rest.String())
			}
			w.cons[req.Key()] = append(w.cons[req.Key()], constraint{req: req, by: "constraint " + req.From, root: true, only: true, clause: c})
		}
	}
	return w
}

// require records that by needs req when c holds (and req's marker).
func (w *walk) require(req Requirement, c clause, by string, root bool) {
	rest, value, decided, err := req.Marker.Bind(w.r.known(""))
	if err != nil {
		w.errs = append(w.errs, fmt.Sprintf("%s: %s: %v", by, req, err))
		return
	}
	if decided && !value {
		return
	}
	if !decided {
		c = c.and(rest.String())
	}
	w.need(req, c, by, by, root)
}

// need records a requirement whose marker is already bound into c.
func (w *walk) need(req Requirement, c clause, by, via string, root bool) {
	if req.From != everyProject { // pinning every project constrains none
		w.cons[req.Key()] = append(w.cons[req.Key()], constraint{req: req, by: by, via: via, root: root, clause: c})
	}
	w.queue = append(w.queue, item{node{req.Key(), ""}, c})
	for _, e := range req.Extras {
		w.queue = append(w.queue, item{node{req.Key(), e}, c})
	}
}

func (w *walk) visit(it item) {
	k := w.conds[it.n]
	if k == nil {
		k = &condition{}
		w.conds[it.n] = k
	}
	if !k.add(it.c) {
		return
	}
	if len(*k) > maxClauses {
		w.errs = append(w.errs, fmt.Sprintf("%s: the markers under which it is needed multiply beyond %d alternatives; give a target (--target-python or --python-version/--platform) to decide them", it.n.key, maxClauses))
		return
	}
	d := w.r.chosen[it.n.key]
	if d == nil {
		return // no version chosen yet (or none there): the next walk or the checks see to it
	}
	if err := w.r.house.load(d); err != nil {
		w.errs = append(w.errs, err.Error())
		return
	}
	if it.n.extra != "" {
		w.queue = append(w.queue, item{node{it.n.key, ""}, it.c})
		if len(d.extras) > 0 && !d.extras[it.n.extra] && !w.noExtra[it.n.key+"\x00"+it.n.extra] {
			w.noExtra[it.n.key+"\x00"+it.n.extra] = true
			w.r.note(fmt.Sprintf("%s has no extra %q (it provides %s)", d.label(), it.n.extra, strings.Join(slices.Sorted(maps.Keys(d.extras)), ", ")))
		}
	}
	for _, req := range d.requires {
		usesExtra := slices.Contains(req.Marker.Variables(), "extra")
		if it.n.extra != "" && !usesExtra {
			continue // the project's own node follows it
		}
		rest, value, decided, err := req.Marker.Bind(w.r.known(it.n.extra))
		if err != nil {
			w.errs = append(w.errs, fmt.Sprintf("%s: Requires-Dist %s: %v", d.label(), req, err))
			return
		}
		if decided && !value {
			continue
		}
		c := it.c
		if !decided {
			c = c.and(rest.String())
		}
		w.need(req, c, d.label(), d.name, false)
	}
}

func (r *resolver) note(s string) {
	if !slices.Contains(r.notes, s) {
		r.notes = append(r.notes, s)
	}
}

// describe renders a constraint for a message: "requests>=2 (required by
// flask; when python_version < "3.8")".
func (c constraint) describe() string {
	s := c.req.String()
	switch {
	case c.root:
		s += " (" + c.by + ")"
	default:
		s += " (required by " + c.by + ")"
	}
	if len(c.clause) > 0 {
		s += " when " + strings.Join(c.clause, " and ")
	}
	return s
}

// choose picks versions for projects the walk reached that have none
// yet, and checks the chosen ones against what constrains them. It
// reports whether it chose anything, the problems, and the projects
// still ambiguous (a problem only once nothing more can be chosen).
func (r *resolver) choose(w *walk) (progress bool, errs, ambiguous []string) {
	reached := map[string]bool{}
	for n := range w.conds {
		reached[n.key] = true
	}
	for _, key := range slices.Sorted(maps.Keys(reached)) {
		cond := *w.conds[node{key, ""}]
		cons := w.cons[key]
		ds := r.house.byKey[key]
		if len(ds) == 0 {
			if cond.always() {
				errs = append(errs, fmt.Sprintf("%s: no wheel of %s in the folder (it has %d other projects)", describeAll(cons, true), key, len(r.house.byKey)))
			} else {
				r.note(fmt.Sprintf("left out %s, needed only as %s: the folder has no wheel of it", key, describeAll(cons, false)))
			}
			continue
		}
		fits := func(d *dist, onlyAlways bool) []constraint {
			var bad []constraint
			for _, c := range cons {
				if onlyAlways && len(c.clause) > 0 {
					continue
				}
				if !c.req.Specifier.Contains(d.version) {
					bad = append(bad, c)
				}
			}
			return bad
		}
		if d := r.chosen[key]; d != nil {
			for _, c := range fits(d, false) {
				if len(c.clause) == 0 {
					errs = append(errs, fmt.Sprintf("%s: the folder has %s", c.describe(), r.house.versions(key)))
				} else {
					r.note(fmt.Sprintf("%s: the folder has %s only; that requirement is not met where it applies", c.describe(), r.house.versions(key)))
				}
			}
			continue
		}
		var always []*dist
		for _, d := range ds {
			if len(fits(d, true)) == 0 {
				always = append(always, d)
			}
		}
		narrowed := always
		if len(always) > 1 {
			narrowed = nil
			for _, d := range always {
				if len(fits(d, false)) == 0 {
					narrowed = append(narrowed, d)
				}
			}
		}
		switch {
		case len(always) == 0:
			errs = append(errs, fmt.Sprintf("%s: the folder has %s", describeAll(cons, true), r.house.versions(key)))
		case len(always) == 1:
			r.chosen[key], progress = always[0], true
		case len(narrowed) == 1:
			r.chosen[key], progress = narrowed[0], true
		default:
			var vs []string
			for _, d := range always {
				vs = append(vs, fmt.Sprintf("%s (%s)", d.label(), d.files()))
			}
			why := "and no requirement chooses one"
			if len(cons) > 0 {
				why = "and " + describeAll(cons, false) + " allows more than one"
			}
			ambiguous = append(ambiguous, fmt.Sprintf("%s: the folder has several versions, %s, %s; name one (%s==%s) in the requirements, or remove the others",
				key, strings.Join(vs, ", "), why, key, always[0].version))
		}
	}
	return progress, errs, ambiguous
}

// describeAll renders constraints for a message; onlyAlways keeps those
// that hold everywhere.
func describeAll(cons []constraint, onlyAlways bool) string {
	var parts []string
	for _, c := range cons {
		if onlyAlways && len(c.clause) > 0 {
			continue
		}
		if d := c.describe(); !slices.Contains(parts, d) {
			parts = append(parts, d)
		}
	}
	if len(parts) == 0 {
		return "required"
	}
	return strings.Join(parts, "; ")
}

// result turns the final walk into the lock.
func (r *resolver) result(w *walk) (*Result, error) {
	res := &Result{Dir: r.opts.Dir}
	type pinned struct {
		d    *dist
		cond string
		by   []string
	}
	var pins []pinned
	for n, k := range w.conds {
		if n.extra != "" {
			continue
		}
		d := r.chosen[n.key]
		if d == nil {
			continue
		}
		m, err := k.marker()
		if err != nil {
			return nil, fmt.Errorf("lock: marker of %s: %w", d.label(), err)
		}
		var by []string
		for _, c := range w.cons[n.key] {
			if c.only {
				continue
			}
			who := c.via
			if c.root {
				file, _, _ := strings.Cut(c.req.From, ":")
				who = "-r " + filepath.ToSlash(file)
			}
			if !slices.Contains(by, who) {
				by = append(by, who)
			}
		}
		slices.Sort(by)
		pins = append(pins, pinned{d, m, by})
	}
	slices.SortFunc(pins, func(a, b pinned) int { return cmp.Compare(a.d.key, b.d.key) })

	// Platform markers, when the chosen wheels are for several platforms.
	var universe []platform
	sets := make([]platformSet, len(pins))
	if r.opts.Env == nil {
		for i, p := range pins {
			sets[i] = wheelPlatforms(p.d.wheels)
			if sets[i].any {
				continue
			}
			for _, m := range sets[i].machines {
				if !slices.Contains(universe, m) {
					universe = append(universe, m)
				}
			}
		}
	}
	for i, p := range pins {
		m := p.cond
		if len(universe) > 1 && !sets[i].any {
			switch {
			case len(sets[i].unknown) > 0:
				r.note(fmt.Sprintf("%s: its wheels are for %s, which pipbake cannot write as a marker; it has no platform marker", p.d.label(), strings.Join(sets[i].unknown, ", ")))
			case !sets[i].covers(universe):
				pm := sets[i].marker()
				if m == "" {
					m = pm
				} else {
					m = "(" + m + ") and (" + pm + ")"
				}
				e, err := marker.Parse(m)
				if err != nil {
					return nil, fmt.Errorf("lock: platform marker of %s: %w", p.d.label(), err)
				}
				m = e.String()
			}
		}
		pkg := Package{Name: p.d.name, Version: p.d.vtext, Marker: m, RequiredBy: p.by}
		for _, wh := range p.d.wheels {
			pkg.Wheels = append(pkg.Wheels, *wh)
		}
		res.Packages = append(res.Packages, pkg)
	}
	// Versions of pinned projects that stay out of the lock.
	for _, p := range pins {
		for _, d := range r.house.byKey[p.d.key] {
			if d != p.d {
				r.note(fmt.Sprintf("left out %s (%s): %s is pinned", d.label(), d.files(), p.d.label()))
			}
		}
	}
	res.Notes = append(append([]string{}, r.house.notes...), r.notes...)
	return res, nil
}
