package wheelpack

import (
	"fmt"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Filename returns the wheel filename
// "{escaped name}-{version}(-{build})?-{python}-{abi}-{platform}.whl".
// The tags ("py3-none-any", ...) are compressed into tag sets: each of the
// three components lists its distinct values, dot-joined, in order of first
// appearance, so tags that form a cross product round-trip exactly.
func Filename(name, version, build string, tags []string) (string, error) {
	if !pyname.Valid(name) {
		return "", fmt.Errorf("wheel filename: invalid distribution name %q", name)
	}
	if version == "" {
		return "", fmt.Errorf("wheel filename for %q: empty version", name)
	}
	if len(tags) == 0 {
		return "", fmt.Errorf("wheel filename for %q: no tags", name)
	}
	var sets [3][]string
	seen := [3]map[string]bool{{}, {}, {}}
	for _, t := range tags {
		parts := strings.Split(t, "-")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return "", fmt.Errorf("wheel filename for %q: malformed tag %q", name, t)
		}
		for i, p := range parts {
			if !seen[i][p] {
				seen[i][p] = true
				sets[i] = append(sets[i], p)
			}
		}
	}
	parts := []string{pyname.WheelEscape(name), escapeVersion(version)}
	if build != "" {
		parts = append(parts, build)
	}
	for _, s := range sets {
		parts = append(parts, strings.Join(s, "."))
	}
	return strings.Join(parts, "-") + ".whl", nil
}

// escapeVersion makes a version safe for a filename component: '-' (never
// in a normalized version, but present in some legacy ones) becomes '_'.
func escapeVersion(v string) string { return strings.ReplaceAll(v, "-", "_") }
