// Package tags computes the wheel compatibility tags an interpreter supports,
// in the order of preference packaging.tags uses, and ranks wheel filenames
// against them.
package tags

import (
	"fmt"
	"strconv"
	"strings"
)

// Tag is one (python, abi, platform) triple, e.g. cp311-cp311-manylinux_2_17_x86_64.
type Tag struct {
	Interpreter, ABI, Platform string
}

func (t Tag) String() string { return t.Interpreter + "-" + t.ABI + "-" + t.Platform }

// Parse parses a single "py-abi-plat" tag.
func Parse(s string) (Tag, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Tag{}, fmt.Errorf("malformed tag %q: want interpreter-abi-platform", s)
	}
	return Tag{strings.ToLower(parts[0]), strings.ToLower(parts[1]), strings.ToLower(parts[2])}, nil
}

// Expand expands a compressed tag set such as "py2.py3-none-any" into its tags.
func Expand(interp, abi, plat string) []Tag {
	var out []Tag
	for _, i := range strings.Split(strings.ToLower(interp), ".") {
		for _, a := range strings.Split(strings.ToLower(abi), ".") {
			for _, p := range strings.Split(strings.ToLower(plat), ".") {
				out = append(out, Tag{i, a, p})
			}
		}
	}
	return out
}

// Spec holds the facts about an interpreter that determine its tags. It can
// come from probing a real interpreter or from command-line flags.
type Spec struct {
	// Implementation is the short implementation name: "cp", "pp", ...
	Implementation string
	// Major and Minor are the Python language version.
	Major, Minor int
	// ABIs are the interpreter's own ABI tags, most specific first (e.g.
	// ["cp311"], ["cp313t"], ["pypy310_pp73"]). Empty means derived from
	// the version for CPython.
	ABIs []string
	// Platforms are the platform tags in preference order. Use
	// LinuxPlatforms to build them for a glibc or musl Linux.
	Platforms []string
	// FreeThreaded marks a CPython built without the GIL (no abi3).
	FreeThreaded bool
}

// Interpreter returns the interpreter tag, e.g. "cp311".
func (s Spec) Interpreter() string {
	return s.implementation() + strconv.Itoa(s.Major) + strconv.Itoa(s.Minor)
}

func (s Spec) implementation() string {
	if s.Implementation == "" {
		return "cp"
	}
	return s.Implementation
}

// Supported returns every tag the spec supports, best first, following the
// ordering of packaging.tags.sys_tags.
func (s Spec) Supported() []Tag {
	var out []Tag
	interp := s.Interpreter()
	if s.implementation() == "cp" {
		abis := s.ABIs
		if len(abis) == 0 {
			abi := interp
			if s.FreeThreaded {
				abi += "t"
			}
			abis = []string{abi}
		}
		for _, abi := range abis {
			for _, p := range s.Platforms {
				out = append(out, Tag{interp, abi, p})
			}
		}
		abi3 := !s.FreeThreaded && s.Major == 3 && s.Minor >= 2
		if abi3 {
			for _, p := range s.Platforms {
				out = append(out, Tag{interp, "abi3", p})
			}
		}
		for _, p := range s.Platforms {
			out = append(out, Tag{interp, "none", p})
		}
		if abi3 {
			for minor := s.Minor - 1; minor >= 2; minor-- {
				for _, p := range s.Platforms {
					out = append(out, Tag{"cp3" + strconv.Itoa(minor), "abi3", p})
				}
			}
		}
	} else {
		for _, abi := range append(append([]string(nil), s.ABIs...), "none") {
			for _, p := range s.Platforms {
				out = append(out, Tag{interp, abi, p})
			}
		}
	}
	// compatible_tags: pyXY-none-plat, then the interpreter's own
	// none-any (pp3 for PyPy), then pyXY-none-any. (packaging before 22
	// left out cpXY-none-any; current packaging has it.)
	pys := s.pyRange()
	for _, py := range pys {
		for _, p := range s.Platforms {
			out = append(out, Tag{py, "none", p})
		}
	}
	if s.implementation() == "pp" {
		out = append(out, Tag{"pp" + strconv.Itoa(s.Major), "none", "any"})
	} else {
		out = append(out, Tag{interp, "none", "any"})
	}
	for _, py := range pys {
		out = append(out, Tag{py, "none", "any"})
	}
	return out
}

// pyRange yields py311, py3, py310, ..., py30 for 3.11.
func (s Spec) pyRange() []string {
	maj := strconv.Itoa(s.Major)
	out := []string{"py" + maj + strconv.Itoa(s.Minor), "py" + maj}
	for minor := s.Minor - 1; minor >= 0; minor-- {
		out = append(out, "py"+maj+strconv.Itoa(minor))
	}
	return out
}

// LinuxPlatforms returns the platform tags of a Linux machine in preference
// order: manylinux_2_N down to manylinux_2_5 (with the manylinux2014, 2010
// and 1 aliases after their glibc versions) for a glibc system, or
// musllinux_1_N down to musllinux_1_0 for a musl system, then linux_ARCH.
// glibcMinor or muslMinor is -1 when that libc is absent.
func LinuxPlatforms(arch string, glibcMinor, muslMinor int) []string {
	var out []string
	if glibcMinor >= 0 {
		oldest := 16 // manylinux was never defined for older glibc on these arches
		if arch == "x86_64" || arch == "i686" {
			oldest = 4
		}
		legacy := map[int]string{17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
		for minor := glibcMinor; minor > oldest; minor-- {
			out = append(out, fmt.Sprintf("manylinux_2_%d_%s", minor, arch))
			if alias, ok := legacy[minor]; ok && (minor != 5 && minor != 12 || arch == "x86_64" || arch == "i686") {
				out = append(out, alias+"_"+arch)
			}
		}
	}
	if muslMinor >= 0 {
		for minor := muslMinor; minor >= 0; minor-- {
			out = append(out, fmt.Sprintf("musllinux_1_%d_%s", minor, arch))
		}
	}
	return append(out, "linux_"+arch)
}

// Ranking maps each supported tag to its preference (0 is best).
type Ranking map[Tag]int

// Rank builds a ranking from tags in preference order.
func Rank(supported []Tag) Ranking {
	r := make(Ranking, len(supported))
	for i, t := range supported {
		if _, dup := r[t]; !dup {
			r[t] = i
		}
	}
	return r
}

// Best returns the best preference among tags and whether any is supported.
func (r Ranking) Best(tags []Tag) (int, bool) {
	best, ok := 0, false
	for _, t := range tags {
		if i, found := r[t]; found && (!ok || i < best) {
			best, ok = i, true
		}
	}
	return best, ok
}
