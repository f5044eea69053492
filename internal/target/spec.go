package target

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/tags"
)

// Description describes a target interpreter by its facts, for when it
// cannot be probed (a Packer host fetching for another machine), as
// pip download's --python-version, --platform, --implementation and --abi
// do.
type Description struct {
	// PythonVersion is "3.11" or "3.11.7".
	PythonVersion string
	// Platforms are platform tags in preference order. A manylinux or
	// musllinux tag stands for that C library version and every older one
	// of the same architecture, as on a real machine: manylinux_2_36_x86_64
	// also accepts manylinux_2_17_x86_64 wheels.
	Platforms []string
	// Implementation is "cp" (the default), "pp", ...
	Implementation string
	// ABI is the interpreter's ABI tag, e.g. "cp311" or "cp313t"; empty
	// means the implementation's default for the version.
	ABI string
}

var (
	pythonVersion = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?$`)
	manylinux     = regexp.MustCompile(`^manylinux_(\d+)_(\d+)_(.+)$`)
	musllinux     = regexp.MustCompile(`^musllinux_(\d+)_(\d+)_(.+)$`)
	legacyLinux   = map[string]int{"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
	platformWord  = regexp.MustCompile(`^[a-z0-9_.]+$`)
)

func (d Description) version() (major, minor int, full string, err error) {
	m := pythonVersion.FindStringSubmatch(strings.TrimSpace(d.PythonVersion))
	if m == nil {
		return 0, 0, "", fmt.Errorf("python version %q: want MAJOR.MINOR or MAJOR.MINOR.MICRO, such as 3.11", d.PythonVersion)
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	if major != 3 || minor < 6 {
		return 0, 0, "", fmt.Errorf("python version %q: pipbake needs Python 3.6 or newer", d.PythonVersion)
	}
	full = m[0]
	if m[3] == "" {
		full += ".0"
	}
	return major, minor, full, nil
}

// Spec returns the tag facts of the described interpreter.
func (d Description) Spec() (tags.Spec, error) {
	major, minor, _, err := d.version()
	if err != nil {
		return tags.Spec{}, err
	}
	impl := strings.ToLower(d.Implementation)
	if impl == "" {
		impl = "cp"
	}
	if !regexp.MustCompile(`^[a-z]+$`).MatchString(impl) {
		return tags.Spec{}, fmt.Errorf("implementation %q: want a short name such as cp or pp", d.Implementation)
	}
	s := tags.Spec{Implementation: impl, Major: major, Minor: minor}
	if d.ABI != "" {
		abi := strings.ToLower(d.ABI)
		if !platformWord.MatchString(abi) || strings.Contains(abi, ".") {
			return tags.Spec{}, fmt.Errorf("abi %q: want an ABI tag such as cp311", d.ABI)
		}
		s.ABIs = []string{abi}
		s.FreeThreaded = impl == "cp" && strings.HasSuffix(abi, "t")
	}
	if len(d.Platforms) == 0 {
		return tags.Spec{}, fmt.Errorf("no platform: give one such as manylinux_2_36_x86_64")
	}
	for _, p := range d.Platforms {
		expanded, err := expandPlatform(p)
		if err != nil {
			return tags.Spec{}, err
		}
		for _, e := range expanded {
			if !slices.Contains(s.Platforms, e) {
				s.Platforms = append(s.Platforms, e)
			}
		}
	}
	return s, nil
}

// Tags returns the tags the described interpreter supports, best first.
func (d Description) Tags() ([]tags.Tag, error) {
	s, err := d.Spec()
	if err != nil {
		return nil, err
	}
	return s.Supported(), nil
}

// expandPlatform turns one platform tag into the platforms a machine of
// that kind accepts, in preference order.
func expandPlatform(p string) ([]string, error) {
	p = strings.ToLower(strings.TrimSpace(p))
	if !platformWord.MatchString(p) || strings.Contains(p, ".") {
		return nil, fmt.Errorf("platform %q: want one platform tag such as manylinux_2_36_x86_64", p)
	}
	if m := manylinux.FindStringSubmatch(p); m != nil {
		glibc, _ := strconv.Atoi(m[2])
		if m[1] != "2" {
			return nil, fmt.Errorf("platform %q: manylinux tags are manylinux_2_MINOR_ARCH", p)
		}
		return tags.LinuxPlatforms(m[3], glibc, -1), nil
	}
	if m := musllinux.FindStringSubmatch(p); m != nil {
		musl, _ := strconv.Atoi(m[2])
		if m[1] != "1" {
			return nil, fmt.Errorf("platform %q: musllinux tags are musllinux_1_MINOR_ARCH", p)
		}
		return tags.LinuxPlatforms(m[3], -1, musl), nil
	}
	if legacy, arch, ok := strings.Cut(p, "_"); ok {
		if glibc, known := legacyLinux[legacy]; known {
			return tags.LinuxPlatforms(arch, glibc, -1), nil
		}
	}
	return []string{p}, nil
}

// Markers returns the PEP 508 marker environment of the described
// interpreter. platform_release and platform_version cannot be known
// without the machine and are empty.
func (d Description) Markers() (marker.Env, error) {
	s, err := d.Spec()
	if err != nil {
		return nil, err
	}
	_, _, full, _ := d.version()
	env := marker.Env{
		"python_version":         fmt.Sprintf("%d.%d", s.Major, s.Minor),
		"python_full_version":    full,
		"implementation_version": full,
		"platform_release":       "",
		"platform_version":       "",
	}
	switch s.Implementation {
	case "cp":
		env["implementation_name"], env["platform_python_implementation"] = "cpython", "CPython"
	case "pp":
		env["implementation_name"], env["platform_python_implementation"] = "pypy", "PyPy"
		env["implementation_version"] = "" // PyPy's own version is not the language version
	default:
		env["implementation_name"], env["platform_python_implementation"] = s.Implementation, s.Implementation
	}
	plat := s.Platforms[0]
	switch {
	case strings.HasPrefix(plat, "manylinux") || strings.HasPrefix(plat, "musllinux") || strings.HasPrefix(plat, "linux_"):
		env["os_name"], env["sys_platform"], env["platform_system"] = "posix", "linux", "Linux"
		env["platform_machine"] = linuxArch(plat)
	case strings.HasPrefix(plat, "macosx_"):
		env["os_name"], env["sys_platform"], env["platform_system"] = "posix", "darwin", "Darwin"
		arch := plat[strings.LastIndex(plat, "_")+1:]
		if arch == "universal2" || arch == "intel" || arch == "universal" {
			arch = "x86_64"
		}
		env["platform_machine"] = arch
	case strings.HasPrefix(plat, "win"):
		env["os_name"], env["sys_platform"], env["platform_system"] = "nt", "win32", "Windows"
		env["platform_machine"] = map[string]string{"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}[plat]
	default:
		env["os_name"], env["sys_platform"], env["platform_system"], env["platform_machine"] = "posix", "", "", ""
	}
	return env, nil
}

// linuxArch returns the architecture part of a Linux platform tag.
func linuxArch(plat string) string {
	if m := manylinux.FindStringSubmatch(plat); m != nil {
		return m[3]
	}
	if m := musllinux.FindStringSubmatch(plat); m != nil {
		return m[3]
	}
	_, arch, _ := strings.Cut(plat, "_")
	if legacy, a, ok := strings.Cut(plat, "_"); ok && legacyLinux[legacy] > 0 {
		arch = a
	}
	return arch
}
