package layer

import "strings"

// Group is one layer's share of the changes: everything at or below any
// of Paths (relative to the root).
type Group struct {
	Name  string
	Paths []string
}

// Split partitions changes into len(groups)+1 lists: one per group, in
// order (a change goes to the first group holding it), and last the
// changes no group holds.
func Split(changes []Change, groups []Group) [][]Change {
	out := make([][]Change, len(groups)+1)
	for _, c := range changes {
		i := owner(c.Path, groups)
		out[i] = append(out[i], c)
	}
	return out
}

func owner(p string, groups []Group) int {
	for i, g := range groups {
		for _, root := range g.Paths {
			root = strings.Trim(root, "/")
			if root != "" && (p == root || strings.HasPrefix(p, root+"/")) {
				return i
			}
		}
	}
	return len(groups)
}
