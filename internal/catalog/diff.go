package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Change is one difference: Kind is "added", "removed" or "changed"; Old
// and New the values on each side ("" where absent).
type Change struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

func (c Change) String() string {
	switch c.Kind {
	case "added":
		return fmt.Sprintf("+ %s %s", c.Name, c.New)
	case "removed":
		return fmt.Sprintf("- %s %s", c.Name, c.Old)
	}
	return fmt.Sprintf("~ %s %s -> %s", c.Name, orDash(c.Old), orDash(c.New))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// DistChange is a distribution's change within a set.
type DistChange struct {
	Set string `json:"set"`
	Change
}

// Diff is what differs from A to B.
type Diff struct {
	From          string       `json:"from"`
	To            string       `json:"to"`
	Sets          []Change     `json:"sets"`
	Distributions []DistChange `json:"distributions"`
	// Locks: per set when both sides have receipts, else "locks" for the
	// combined pipbake:lock-sha256.
	Locks []Change `json:"locks"`
	// Base: pipbake:base, and each set's interpreter.
	Base []Change `json:"base"`
	// Unknown says what could not be compared, and why.
	Unknown []string `json:"unknown,omitempty"`
}

// Same reports whether nothing known differs.
func (d *Diff) Same() bool {
	return len(d.Sets) == 0 && len(d.Distributions) == 0 && len(d.Locks) == 0 && len(d.Base) == 0
}

// DiffFacts returns what changes from a to b.
func DiffFacts(a, b Facts) *Diff {
	d := &Diff{From: a.Label, To: b.Label, Sets: []Change{}, Distributions: []DistChange{}, Locks: []Change{}, Base: []Change{}}
	as, bs := setIndex(a.Sets), setIndex(b.Sets)
	bothKnown := true
	for _, name := range unionKeys(as, bs) {
		sa, okA := as[name]
		sb, okB := bs[name]
		switch {
		case !okA:
			d.Sets = append(d.Sets, Change{Kind: "added", Name: name, New: sb.Version})
			continue
		case !okB:
			d.Sets = append(d.Sets, Change{Kind: "removed", Name: name, Old: sa.Version})
			continue
		case sa.Version != sb.Version:
			d.Sets = append(d.Sets, Change{Kind: "changed", Name: name, Old: sa.Version, New: sb.Version})
		}
		if !sa.Known || !sb.Known {
			bothKnown = false
			continue
		}
		d.Distributions = append(d.Distributions, diffDists(name, sa.Distributions, sb.Distributions)...)
		if sa.LockSHA256 != sb.LockSHA256 {
			d.Locks = append(d.Locks, Change{Kind: "changed", Name: name, Old: sa.LockSHA256, New: sb.LockSHA256})
		}
		if sa.Interpreter != sb.Interpreter {
			d.Base = append(d.Base, Change{Kind: "changed", Name: "interpreter of " + name, Old: sa.Interpreter, New: sb.Interpreter})
		}
	}
	if !bothKnown {
		// Only the combined lock sha256 of the tags can be compared.
		if a.Release.LockSHA256 != "" && b.Release.LockSHA256 != "" {
			if a.Release.LockSHA256 != b.Release.LockSHA256 {
				d.Locks = append(d.Locks, Change{Kind: "changed", Name: "locks", Old: a.Release.LockSHA256, New: b.Release.LockSHA256})
			}
		} else {
			d.Unknown = append(d.Unknown, "locks: a side has no "+TagLockSHA256)
		}
		var tagsOnly []string
		for _, f := range []Facts{a, b} {
			if !allKnown(f) {
				tagsOnly = append(tagsOnly, f.Label)
			}
		}
		d.Unknown = append(d.Unknown, fmt.Sprintf("distributions: only tags are known of %s; their receipts would tell", strings.Join(tagsOnly, " and ")))
	}
	if a.Release.Base != b.Release.Base {
		if a.Release.Base == "" || b.Release.Base == "" {
			d.Unknown = append(d.Unknown, "base: a side does not record it ("+TagBase+")")
		} else {
			d.Base = append(d.Base, Change{Kind: "changed", Name: "base", Old: a.Release.Base, New: b.Release.Base})
		}
	}
	for _, f := range []Facts{a, b} {
		if f.SetsCut > 0 {
			d.Unknown = append(d.Unknown, fmt.Sprintf("%s: %d sets beyond what %s holds", f.Label, f.SetsCut, TagSets))
		}
		for _, n := range f.Notes {
			d.Unknown = append(d.Unknown, f.Label+": "+n)
		}
	}
	return d
}

func allKnown(f Facts) bool {
	for _, s := range f.Sets {
		if !s.Known {
			return false
		}
	}
	return f.SetsCut == 0
}

func setIndex(sets []SetFacts) map[string]SetFacts {
	m := make(map[string]SetFacts, len(sets))
	for _, s := range sets {
		m[s.Name] = s
	}
	return m
}

func unionKeys[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func diffDists(set string, a, b []Dist) []DistChange {
	am, bm := map[string]Dist{}, map[string]Dist{}
	for _, d := range a {
		am[pyname.Normalize(d.Name)] = d
	}
	for _, d := range b {
		bm[pyname.Normalize(d.Name)] = d
	}
	var out []DistChange
	for _, k := range unionKeys(am, bm) {
		da, okA := am[k]
		db, okB := bm[k]
		switch {
		case !okA:
			out = append(out, DistChange{Set: set, Change: Change{Kind: "added", Name: db.Name, New: db.Version}})
		case !okB:
			out = append(out, DistChange{Set: set, Change: Change{Kind: "removed", Name: da.Name, Old: da.Version}})
		case da.Version != db.Version:
			out = append(out, DistChange{Set: set, Change: Change{Kind: "changed", Name: db.Name, Old: da.Version, New: db.Version}})
		}
	}
	return out
}

// String renders the diff for people, indented by indent.
func (d *Diff) String() string { return d.Format("") }

// Format renders the diff with each line indented by indent.
func (d *Diff) Format(indent string) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, indent+format+"\n", args...) }
	line("%s -> %s", d.From, d.To)
	if d.Same() {
		line("  no known difference")
	}
	if len(d.Sets) > 0 {
		line("  sets:")
		for _, c := range d.Sets {
			line("    %s", c)
		}
	}
	if len(d.Distributions) > 0 {
		line("  distributions:")
		set := ""
		for _, c := range d.Distributions {
			if c.Set != set {
				set = c.Set
				line("    in %s:", set)
			}
			line("      %s", c.Change)
		}
	}
	if len(d.Locks) > 0 {
		line("  locks:")
		for _, c := range d.Locks {
			line("    ~ %s %s -> %s", c.Name, short(c.Old), short(c.New))
		}
	}
	if len(d.Base) > 0 {
		line("  base:")
		for _, c := range d.Base {
			line("    %s", c)
		}
	}
	for _, u := range d.Unknown {
		line("  unknown: %s", u)
	}
	return b.String()
}
