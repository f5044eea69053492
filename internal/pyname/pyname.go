// Package pyname normalizes Python distribution names the way PEP 503 and
// the wheel specification compare them.
package pyname

import "strings"

// Normalize returns the PEP 503 normalized form of a project name: lower
// case, with every run of '-', '_' and '.' replaced by a single '-'.
func Normalize(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteByte(c)
	}
	return b.String()
}

// WheelEscape returns the name as it appears in wheel filenames and
// .dist-info directory names: normalized, with '-' replaced by '_'.
func WheelEscape(name string) string {
	return strings.ReplaceAll(Normalize(name), "-", "_")
}

// Valid reports whether name is a syntactically valid project name
// (PEP 508: ASCII letters and digits, with '.', '_' and '-' inside).
func Valid(name string) bool {
	if name == "" {
		return false
	}
	alnum := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !alnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}
