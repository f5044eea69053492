// Package suggest finds, for a name that is not there (a typo in a lock),
// the nearest names that are: "did you mean flask?".
//
// Names are compared in PEP 503 normal form (Projects) and by edit
// distance with transpositions (Distance): one edit for a short name, two
// for a longer one, three from twelve characters on.
package suggest

import (
	"cmp"
	"slices"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// MaxSuggestions is how many names Nearest returns at most.
const MaxSuggestions = 3

// maxNameLen bounds the names compared (longer ones are never near):
// the distance takes time in the product of the lengths.
const maxNameLen = 256

// Projects returns the Python projects among candidates nearest to name,
// as written in candidates (PEP 503 normalised for the comparison), best
// first; none when name itself is among them.
func Projects(name string, candidates []string) []string {
	return Nearest(name, candidates, pyname.Normalize)
}

// Nearest returns up to MaxSuggestions of candidates within reach of
// name (Reach), nearest first, then in name order; norm (nil: as they
// are) is applied to both sides before comparing. Candidates equal to
// name after norm mean name is there: Nearest returns none.
func Nearest(name string, candidates []string, norm func(string) string) []string {
	if norm == nil {
		norm = func(s string) string { return s }
	}
	want := norm(name)
	if want == "" || len(want) > maxNameLen {
		return nil
	}
	reach := Reach(want)
	type hit struct {
		name string
		d    int
	}
	var hits []hit
	seen := map[string]bool{}
	for _, c := range candidates {
		n := norm(c)
		if n == want {
			return nil
		}
		if seen[n] || len(n) > maxNameLen || abs(len(n)-len(want)) > reach {
			continue
		}
		seen[n] = true
		if d := Distance(want, n); d <= reach {
			hits = append(hits, hit{c, d})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.d, b.d), strings.Compare(a.name, b.name))
	})
	var out []string
	for _, h := range hits[:min(len(hits), MaxSuggestions)] {
		out = append(out, h.name)
	}
	return out
}

// Reach is how many edits away a name may be to be suggested for s: 1
// up to 4 characters, 2 up to 11, then 3.
func Reach(s string) int {
	switch n := len(s); {
	case n <= 4:
		return 1
	case n <= 11:
		return 2
	}
	return 3
}

// Distance is the optimal string alignment distance between a and b
// (bytes): insertions, deletions, substitutions and swaps of two
// neighbours each count one.
func Distance(a, b string) int {
	if a == b {
		return 0
	}
	// Three rows: two back (for swaps), the previous and the current.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// Phrase is " (did you mean a, b or c?)" for a non-empty list, else "".
func Phrase(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return " (did you mean " + names[0] + "?)"
	}
	return " (did you mean " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1] + "?)"
}
