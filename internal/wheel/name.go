// Package wheel reads, verifies and installs wheel archives as the binary
// distribution format specification describes them.
package wheel

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/tags"
)

// Name is a parsed wheel filename:
// {distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl
type Name struct {
	File         string
	Distribution string // as written in the filename (escaped)
	Version      string
	Build        string
	Python       string
	ABI          string
	Platform     string
}

// CheckFileName refuses a file name that came from outside (a lock, an
// index page, a cache record, an archive) unless it is one plain name
// that stays inside whatever folder it is joined to: no "/" or "\", no
// "..", no NUL or other control character, no leading dot (hidden, and
// "." and ".." themselves), not empty.
func CheckFileName(file string) error {
	why := ""
	switch {
	case file == "":
		why = "it is empty"
	case strings.ContainsAny(file, `/\`):
		why = "it contains a path separator"
	case strings.Contains(file, ".."):
		why = `it contains ".."`
	case strings.HasPrefix(file, "."):
		why = "it starts with a dot"
	case strings.IndexFunc(file, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		why = "it contains a control character"
	default:
		return nil
	}
	return fmt.Errorf("file name %q is refused: %s", file, why)
}

// ParseName parses a wheel filename (a base name, not a path). A name
// CheckFileName refuses is refused here too, whatever its parts.
func ParseName(file string) (Name, error) {
	if err := CheckFileName(file); err != nil {
		return Name{}, fmt.Errorf("wheel filename: %w", err)
	}
	stem, ok := strings.CutSuffix(file, ".whl")
	if !ok {
		return Name{}, fmt.Errorf("%q is not a wheel filename: it does not end in .whl", file)
	}
	parts := strings.Split(stem, "-")
	n := Name{File: file}
	switch len(parts) {
	case 5:
		n.Distribution, n.Version, n.Python, n.ABI, n.Platform = parts[0], parts[1], parts[2], parts[3], parts[4]
	case 6:
		n.Distribution, n.Version, n.Build, n.Python, n.ABI, n.Platform = parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
		if n.Build == "" || n.Build[0] < '0' || n.Build[0] > '9' {
			return Name{}, fmt.Errorf("wheel filename %q: build tag %q must start with a digit", file, n.Build)
		}
	default:
		return Name{}, fmt.Errorf("wheel filename %q: want name-version(-build)?-python-abi-platform.whl", file)
	}
	for _, f := range []string{n.Distribution, n.Version, n.Python, n.ABI, n.Platform} {
		if f == "" {
			return Name{}, fmt.Errorf("wheel filename %q has an empty component", file)
		}
	}
	return n, nil
}

// Key is the normalized distribution name.
func (n Name) Key() string { return pyname.Normalize(n.Distribution) }

// Tags expands the filename's compressed tag sets.
func (n Name) Tags() []tags.Tag { return tags.Expand(n.Python, n.ABI, n.Platform) }

// BuildNumber returns the numeric part of the build tag (0 when absent).
func (n Name) BuildNumber() int {
	i := 0
	for i < len(n.Build) && n.Build[i] >= '0' && n.Build[i] <= '9' {
		i++
	}
	v, _ := strconv.Atoi(n.Build[:i])
	return v
}

// Matches reports whether the wheel is the given project and version
// (names compared normalized, versions compared as PEP 440 versions).
func (n Name) Matches(project, version string) bool {
	if n.Key() != pyname.Normalize(project) {
		return false
	}
	if n.Version == version {
		return true
	}
	a, err1 := pep440.Parse(n.Version)
	b, err2 := pep440.Parse(version)
	return err1 == nil && err2 == nil && pep440.Compare(a, b) == 0
}
