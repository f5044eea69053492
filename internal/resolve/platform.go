package resolve

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// platform is a machine kind a wheel's platform tag runs on, in marker
// terms: sys_platform and platform_machine ("" for any machine, as for
// win32 wheels, which 32-bit Pythons run on 64-bit Windows too).
type platform struct{ sys, machine string }

var (
	linuxTag = regexp.MustCompile(`^(?:linux|manylinux1|manylinux2010|manylinux2014|manylinux_\d+_\d+|musllinux_\d+_\d+)_(x86_64|i686|aarch64|armv7l|ppc64le|s390x|riscv64|ppc64|loongarch64)$`)
	macTag   = regexp.MustCompile(`^macosx_\d+_\d+_([a-z0-9_]+)$`)
)

// platformsOf maps one platform tag to the machines it runs on; ok is
// false for "any" (every machine) and for a tag this mapping does not
// know, which known says apart.
func platformsOf(tag string) (ps []platform, specific, known bool) {
	if tag == "any" {
		return nil, false, true
	}
	if m := linuxTag.FindStringSubmatch(tag); m != nil {
		return []platform{{"linux", m[1]}}, true, true
	}
	if m := macTag.FindStringSubmatch(tag); m != nil {
		switch m[1] {
		case "arm64", "x86_64":
			return []platform{{"darwin", m[1]}}, true, true
		case "universal2":
			return []platform{{"darwin", "arm64"}, {"darwin", "x86_64"}}, true, true
		case "intel":
			return []platform{{"darwin", "i386"}, {"darwin", "x86_64"}}, true, true
		}
		return nil, true, false
	}
	switch tag {
	case "win_amd64":
		return []platform{{"win32", "AMD64"}}, true, true
	case "win_arm64":
		return []platform{{"win32", "ARM64"}}, true, true
	case "win32":
		return []platform{{"win32", ""}}, true, true
	}
	return nil, true, false
}

// platformSet is the machines a set of wheels covers.
type platformSet struct {
	any      bool       // some wheel runs anywhere
	unknown  []string   // platform tags platformsOf does not know
	machines []platform // sorted, unique
}

func wheelPlatforms(ws []*Wheel) platformSet {
	var s platformSet
	for _, w := range ws {
		for _, tag := range strings.Split(w.Name.Platform, ".") {
			ps, specific, known := platformsOf(tag)
			switch {
			case !specific:
				s.any = true
			case !known:
				if !slices.Contains(s.unknown, tag) {
					s.unknown = append(s.unknown, tag)
				}
			default:
				for _, p := range ps {
					if !slices.Contains(s.machines, p) {
						s.machines = append(s.machines, p)
					}
				}
			}
		}
	}
	slices.SortFunc(s.machines, func(a, b platform) int {
		return strings.Compare(a.sys+"/"+a.machine, b.sys+"/"+b.machine)
	})
	return s
}

// covers reports whether s runs on every machine of all.
func (s platformSet) covers(all []platform) bool {
	if s.any {
		return true
	}
	for _, p := range all {
		if !slices.Contains(s.machines, p) && !slices.Contains(s.machines, platform{p.sys, ""}) {
			return false
		}
	}
	return true
}

// marker renders the machines as a marker such as
// `sys_platform == "linux" and (platform_machine == "aarch64" or platform_machine == "x86_64")`.
func (s platformSet) marker() string {
	var bySys []string
	var order []string
	machines := map[string][]string{}
	for _, p := range s.machines {
		if _, ok := machines[p.sys]; !ok {
			order = append(order, p.sys)
		}
		machines[p.sys] = append(machines[p.sys], p.machine)
	}
	for _, sys := range order {
		ms := machines[sys]
		cond := fmt.Sprintf("sys_platform == %q", sys)
		if !slices.Contains(ms, "") {
			var alts []string
			for _, m := range ms {
				alts = append(alts, fmt.Sprintf("platform_machine == %q", m))
			}
			cond += " and (" + strings.Join(alts, " or ") + ")"
		}
		bySys = append(bySys, "("+cond+")")
	}
	return strings.Join(bySys, " or ")
}
