package resolve

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Format is a lock file format pipbake lock writes.
type Format string

// The formats: hashed requirements (pip-compile's) and PEP 751.
const (
	Requirements Format = "requirements"
	PyLock       Format = "pylock"
)

// FormatFor is the format a lock file's name implies: pylock for
// pylock.toml and pylock.NAME.toml (PEP 751), requirements otherwise.
func FormatFor(path string) Format {
	base := strings.ToLower(filepath.Base(path))
	if strings.HasPrefix(base, "pylock.") && strings.HasSuffix(base, ".toml") {
		return PyLock
	}
	return Requirements
}

// WriteRequirements writes res as a hashed requirements file: after the
// header (each line a comment), one `name==version ; marker` per package
// with a --hash for every wheel of that version, and who needs it.
// pip install --require-hashes accepts it as pipbake install does.
func WriteRequirements(w io.Writer, res *Result, header []string) error {
	bw := bufio.NewWriter(w)
	for _, h := range header {
		fmt.Fprintf(bw, "#%s\n", prefixed(h))
	}
	if len(header) > 0 {
		bw.WriteString("#\n")
	}
	for _, p := range res.Packages {
		if strings.ContainsAny(p.Name+p.Version, " \t\r\n;#\\") {
			return fmt.Errorf("package %q %q cannot be written as a requirement", p.Name, p.Version)
		}
		if unsafeMarker(p.Marker) {
			return fmt.Errorf("the marker of %s %s, %q, cannot be written in a requirements file (pip would read part of it as a comment or an option); write a pylock.toml instead", p.Name, p.Version, p.Marker)
		}
		line := p.Name + "==" + p.Version
		if p.Marker != "" {
			line += " ; " + p.Marker
		}
		bw.WriteString(line)
		seen := map[string]bool{}
		for _, wh := range p.Wheels {
			if seen[wh.SHA256] {
				continue
			}
			seen[wh.SHA256] = true
			fmt.Fprintf(bw, " \\\n    --hash=sha256:%s", wh.SHA256)
		}
		bw.WriteString("\n")
		if len(p.RequiredBy) > 0 {
			fmt.Fprintf(bw, "    # via %s\n", strings.Join(p.RequiredBy, ", "))
		}
	}
	return bw.Flush()
}

// WritePyLock writes res as a PEP 751 pylock.toml (lock-version 1.0,
// created-by pipbake): a [[packages]] table per package with its
// normalized name, version, marker and every wheel's name, path (relative
// to lockDir, the folder the lock is written to), size and sha256.
func WritePyLock(w io.Writer, res *Result, lockDir string, header []string) error {
	absLock, err := filepath.Abs(lockDir)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for _, h := range header {
		fmt.Fprintf(bw, "#%s\n", prefixed(h))
	}
	bw.WriteString("lock-version = \"1.0\"\ncreated-by = \"pipbake\"\n")
	for _, p := range res.Packages {
		fmt.Fprintf(bw, "\n[[packages]]\nname = %s\nversion = %s\n", tomlString(p.Key()), tomlString(p.Version))
		if p.Marker != "" {
			fmt.Fprintf(bw, "marker = %s\n", tomlString(p.Marker))
		}
		bw.WriteString("wheels = [\n")
		for _, wh := range p.Wheels {
			abs, err := filepath.Abs(wh.Path)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(absLock, abs)
			if err != nil {
				rel = abs
			}
			fmt.Fprintf(bw, "  { name = %s, path = %s, size = %d, hashes = { sha256 = %s } },\n",
				tomlString(wh.File), tomlString(filepath.ToSlash(rel)), wh.Size, tomlString(wh.SHA256))
		}
		bw.WriteString("]\n")
	}
	return bw.Flush()
}

// unsafeMarker reports a marker pip's requirements syntax would not read
// back as one: a line break, a backslash, or a "#" or "-" after
// whitespace (a comment, or an option such as --hash).
func unsafeMarker(m string) bool {
	if strings.ContainsAny(m, "\r\n\\") {
		return true
	}
	for i := 1; i < len(m); i++ {
		if (m[i] == '#' || m[i] == '-') && (m[i-1] == ' ' || m[i-1] == '\t') {
			return true
		}
	}
	return false
}

// prefixed puts a space before a non-empty comment line.
func prefixed(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	if s == "" {
		return ""
	}
	return " " + s
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
