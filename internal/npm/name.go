package npm

import (
	"fmt"
	"strings"
)

// MaxNameBytes is the longest package name npm publishes.
const MaxNameBytes = 214

// CheckName refuses a package name that npm's rules for published names
// (old packages included) would not allow, and anything that could leave
// a folder when used as a path: a name is `name` or `@scope/name`, each
// part made of letters, digits and - . _ ~ ! ' ( ) *, not starting with
// a dot or an underscore, at most MaxNameBytes in all.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("empty package name")
	}
	if len(name) > MaxNameBytes {
		return fmt.Errorf("package name %s is longer than %d bytes", quote(name), MaxNameBytes)
	}
	rest := name
	if strings.HasPrefix(name, "@") {
		scope, pkg, ok := strings.Cut(name[1:], "/")
		if !ok {
			return fmt.Errorf("package name %s: a scoped name is @scope/name", quote(name))
		}
		if err := checkNamePart(scope); err != nil {
			return fmt.Errorf("package name %s: scope: %v", quote(name), err)
		}
		rest = pkg
	}
	if err := checkNamePart(rest); err != nil {
		return fmt.Errorf("package name %s: %v", quote(name), err)
	}
	if rest == "node_modules" || rest == "favicon.ico" {
		return fmt.Errorf("package name %s is reserved", quote(name))
	}
	return nil
}

func checkNamePart(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if s[0] == '.' || s[0] == '_' {
		return fmt.Errorf("starts with %q", s[0])
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!'()*", c) >= 0:
		default:
			return fmt.Errorf("has the character %q", c)
		}
	}
	return nil
}

// CheckVersion refuses a version that is no plain semver-shaped string:
// letters, digits, ".", "-" and "+", at most 256 bytes, starting with a
// digit (it names files).
func CheckVersion(v string) error {
	if v == "" {
		return fmt.Errorf("no version")
	}
	if len(v) > 256 {
		return fmt.Errorf("version %s is longer than 256 bytes", quote(v))
	}
	if v[0] < '0' || v[0] > '9' {
		return fmt.Errorf("version %s does not start with a digit", quote(v))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '+') {
			return fmt.Errorf("version %s has the character %q", quote(v), c)
		}
	}
	return nil
}

// TarballFile is the file name of a package's tarball in a folder that
// pipbake fetch writes: the name with "/" as "+", "@", the version,
// ".tgz" ("express@4.21.2.tgz", "@babel+core@7.26.0.tgz"). Neither "+"
// in a name nor "@" in a version is allowed, so the name is unambiguous.
// name and version must pass CheckName and CheckVersion.
func TarballFile(name, version string) string {
	return strings.Replace(name, "/", "+", 1) + "@" + version + ".tgz"
}

// RegistryPath is where a registry keeps a package's tarball, relative
// to its base URL: "express/-/express-4.21.2.tgz",
// "@babel/core/-/core-7.26.0.tgz".
func RegistryPath(name, version string) string {
	base := name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		base = name[i+1:]
	}
	return name + "/-/" + base + "-" + version + ".tgz"
}

// nameFromPath is the package name a lock key's last node_modules
// segment gives: "node_modules/a/node_modules/@s/b" → "@s/b"; "" when the
// key is not inside a node_modules folder.
func nameFromPath(p string) string {
	i := strings.LastIndex(p, "node_modules/")
	if i < 0 || (i > 0 && p[i-1] != '/') {
		return ""
	}
	return p[i+len("node_modules/"):]
}

// checkKey refuses a lock key that is no relative path of plain
// segments, or whose node_modules segments are not followed by a
// package name.
func checkKey(k string) error {
	if len(k) > 4096 {
		return fmt.Errorf("path is longer than 4096 bytes")
	}
	if strings.HasPrefix(k, "/") {
		return fmt.Errorf("absolute path")
	}
	segs := strings.Split(k, "/")
	for _, s := range segs {
		switch {
		case s == "":
			return fmt.Errorf("empty path segment")
		case s == "." || s == "..":
			return fmt.Errorf("path segment %q", s)
		}
		for j := 0; j < len(s); j++ {
			if c := s[j]; c < 0x20 || c == 0x7f || c == '\\' {
				return fmt.Errorf("path has the character %q", c)
			}
		}
	}
	for i := 0; i < len(segs); i++ {
		if segs[i] != "node_modules" {
			continue
		}
		if i+1 >= len(segs) {
			return fmt.Errorf("ends in node_modules")
		}
		name := segs[i+1]
		if strings.HasPrefix(name, "@") {
			if i+2 >= len(segs) {
				return fmt.Errorf("scope %s without a package", quote(name))
			}
			name += "/" + segs[i+2]
			i++
		}
		if err := CheckName(name); err != nil {
			return err
		}
		i++
	}
	return nil
}

// quote renders a value from the input for a message: Go-quoted, at
// most about 120 bytes of it.
func quote(s string) string {
	if len(s) > 120 {
		return fmt.Sprintf("%q...", s[:120])
	}
	return fmt.Sprintf("%q", s)
}

// PURL is a package's Package URL, as SBOMs name npm packages:
// "pkg:npm/express@4.21.2", "pkg:npm/%40babel/core@7.26.0".
func PURL(name, version string) string {
	if strings.HasPrefix(name, "@") {
		name = "%40" + name[1:]
	}
	return "pkg:npm/" + name + "@" + version
}
