package resolve

import (
	"slices"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
)

// clause is a conjunction of markers (canonical texts, sorted, unique);
// the empty clause is "always".
type clause []string

// and returns c with the marker m added.
func (c clause) and(m string) clause {
	if m == "" || slices.Contains(c, m) {
		return c
	}
	out := append(append(clause{}, c...), m)
	slices.Sort(out)
	return out
}

// subset reports whether every marker of c is in d (c is weaker than d,
// so d adds nothing to a condition that has c).
func (c clause) subset(d clause) bool {
	for _, m := range c {
		if !slices.Contains(d, m) {
			return false
		}
	}
	return true
}

// condition is a disjunction of clauses: when a project is needed. The
// empty condition is "never"; one holding the empty clause is "always".
type condition []clause

// maxClauses bounds a condition: markers that multiply beyond it are an
// error rather than a lock no one can read.
const maxClauses = 64

// add adds c unless a weaker clause is there, dropping the stronger ones
// it makes redundant. It reports whether the condition changed.
func (k *condition) add(c clause) bool {
	for _, x := range *k {
		if x.subset(c) {
			return false
		}
	}
	*k = slices.DeleteFunc(*k, func(x clause) bool { return c.subset(x) })
	*k = append(*k, c)
	return true
}

// always reports whether the condition holds everywhere.
func (k condition) always() bool {
	return slices.ContainsFunc(k, func(c clause) bool { return len(c) == 0 })
}

// marker renders the condition as one marker ("" for always) in the
// marker package's canonical form.
func (k condition) marker() (string, error) {
	if k.always() || len(k) == 0 {
		return "", nil
	}
	var ors []string
	for _, c := range k {
		var ands []string
		for _, m := range c {
			ands = append(ands, "("+m+")")
		}
		ors = append(ors, "("+strings.Join(ands, " and ")+")")
	}
	slices.Sort(ors)
	e, err := marker.Parse(strings.Join(ors, " or "))
	if err != nil {
		return "", err
	}
	return e.String(), nil
}
