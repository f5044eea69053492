package resolve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Requirement is a PEP 508 name-based requirement: a project, the extras
// asked of it, a version specifier and a marker.
type Requirement struct {
	Name      string              // as written
	Extras    []string            // PEP 685-normalized, sorted, unique
	Specifier pep440.SpecifierSet // empty: any version
	Marker    marker.Expr         // empty: always
	// From says where it was written, for messages: "requirements.in:3"
	// or "flask 3.1.3 (Requires-Dist)".
	From string
}

// Key is the requirement's normalized project name.
func (r Requirement) Key() string { return pyname.Normalize(r.Name) }

// String renders the requirement without its marker, e.g.
// "requests[socks]>=2.31".
func (r Requirement) String() string {
	s := r.Name
	if len(r.Extras) > 0 {
		s += "[" + strings.Join(r.Extras, ",") + "]"
	}
	return s + r.Specifier.String()
}

// maxRequirement bounds one requirement's text (a METADATA header or a
// requirements line).
const maxRequirement = 64 << 10

// ParseRequirement parses one PEP 508 requirement such as
// `requests[socks] (>=2.31,<3) ; python_version >= "3.8"`. Direct
// references (`name @ URL`) and paths are refused: a wheelhouse holds
// projects by name and version only.
func ParseRequirement(s string) (Requirement, error) {
	var r Requirement
	if len(s) > maxRequirement {
		return r, fmt.Errorf("requirement of %d bytes is too long", len(s))
	}
	if i := strings.IndexFunc(s, func(c rune) bool { return c < 0x20 && c != '\t' || c == 0x7f }); i >= 0 {
		return r, fmt.Errorf("requirement %q contains a control character", s)
	}
	text := strings.TrimSpace(s)
	spec, mark, hasMarker := strings.Cut(text, ";")
	spec = strings.TrimSpace(spec)
	i := 0
	for i < len(spec) && isNameByte(spec[i]) {
		i++
	}
	r.Name = spec[:i]
	if r.Name == "" || !pyname.Valid(r.Name) {
		return r, fmt.Errorf("requirement %q does not start with a valid project name", text)
	}
	rest := strings.TrimSpace(spec[i:])
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return r, fmt.Errorf("requirement %q: unclosed [ in its extras", text)
		}
		for _, e := range strings.Split(rest[1:end], ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			if !pyname.Valid(e) {
				return r, fmt.Errorf("requirement %q: invalid extra %q", text, e)
			}
			r.Extras = append(r.Extras, pyname.Normalize(e))
		}
		slices.Sort(r.Extras)
		r.Extras = slices.Compact(r.Extras)
		rest = strings.TrimSpace(rest[end+1:])
	}
	if strings.HasPrefix(rest, "@") || strings.Contains(rest, "://") {
		return r, fmt.Errorf("requirement %q is a direct reference to a URL; a wheelhouse holds projects by name and version only", text)
	}
	if strings.HasPrefix(rest, "(") {
		if !strings.HasSuffix(rest, ")") {
			return r, fmt.Errorf("requirement %q: unclosed ( in its version specifier", text)
		}
		rest = strings.TrimSpace(rest[1 : len(rest)-1])
	}
	if rest != "" && !strings.ContainsRune("=!<>~", rune(rest[0])) {
		return r, fmt.Errorf("requirement %q: unexpected %q after the project name", text, rest)
	}
	set, err := pep440.ParseSpecifier(rest)
	if err != nil {
		return r, fmt.Errorf("requirement %q: %w", text, err)
	}
	r.Specifier = set
	if hasMarker {
		if strings.TrimSpace(mark) == "" {
			return r, fmt.Errorf("requirement %q: nothing after ';'", text)
		}
		if r.Marker, err = marker.Parse(strings.TrimSpace(mark)); err != nil {
			return r, fmt.Errorf("requirement %q: %w", text, err)
		}
	}
	return r, nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// maxRequirementsFile bounds a requirements file; maxIncludes bounds how
// deep -r and -c nest.
const (
	maxRequirementsFile = 16 << 20
	maxIncludes         = 10
)

// RequirementsFile is what a plain requirements file asks for.
type RequirementsFile struct {
	// Requirements are the projects asked for, in file order (includes
	// where they are included).
	Requirements []Requirement
	// Constraints (from -c files) narrow versions without asking for a
	// project.
	Constraints []Requirement
	// Notes are options that do not apply to a wheelhouse and were
	// ignored (--index-url, --hash, ...).
	Notes []string
}

// ReadRequirementsFile reads a requirements file as pip takes it:
// PEP 508 requirements one per line, comments, backslash continuations,
// -r/--requirement and -c/--constraint includes (relative to the file).
// Index options (--index-url, --find-links, ...) and per-requirement
// --hash options do not apply to a wheelhouse and are noted and ignored;
// editables, URLs and paths are errors naming file:line.
func ReadRequirementsFile(path string) (*RequirementsFile, error) {
	rf := &RequirementsFile{}
	if err := rf.read(path, false, nil); err != nil {
		return nil, err
	}
	return rf, nil
}

func (rf *RequirementsFile) read(path string, constraints bool, stack []string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("requirements file %s: %w", path, err)
	}
	if slices.Contains(stack, abs) {
		return fmt.Errorf("requirements file %s includes itself (through %s)", path, strings.Join(stack, " -> "))
	}
	if len(stack) >= maxIncludes {
		return fmt.Errorf("requirements file %s: includes nest more than %d deep", path, maxIncludes)
	}
	stack = append(stack, abs)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read requirements file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read requirements file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("requirements file %s is not a regular file", path)
	}
	data := make([]byte, 0, min(st.Size(), maxRequirementsFile)+1)
	buf := bytes.NewBuffer(data)
	if _, err := buf.ReadFrom(io.LimitReader(f, maxRequirementsFile+1)); err != nil {
		return fmt.Errorf("read requirements file %s: %w", path, err)
	}
	if buf.Len() > maxRequirementsFile {
		return fmt.Errorf("requirements file %s is larger than %d MiB", path, maxRequirementsFile>>20)
	}
	var errs []error
	hashNoted := false
	for _, ln := range logicalLines(buf.Bytes()) {
		where := fmt.Sprintf("%s:%d", path, ln.num)
		line := ln.text
		if i := commentStart(line); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "-") {
			if err := rf.option(path, where, line, constraints, stack); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		// Per-requirement options (--hash=...) start at the first word
		// beginning with "-" after whitespace.
		reqText := line
		if i := strings.Index(line, " -"); i >= 0 {
			reqText, line = strings.TrimSpace(line[:i]), strings.TrimSpace(line[i:])
			for _, w := range strings.Fields(line) {
				if !strings.HasPrefix(w, "--hash") && strings.HasPrefix(w, "-") {
					errs = append(errs, fmt.Errorf("%s: option %s after a requirement is not supported", where, w))
				}
			}
			if !hashNoted {
				hashNoted = true
				rf.Notes = append(rf.Notes, fmt.Sprintf("%s: --hash options ignored (here and on later lines): pipbake lock hashes the wheels it finds", where))
			}
		}
		if looksLikePath(reqText) {
			errs = append(errs, fmt.Errorf("%s: %q is a path or URL; pipbake lock pins projects by name from the wheelhouse", where, reqText))
			continue
		}
		r, err := ParseRequirement(reqText)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		r.From = where
		if constraints {
			rf.Constraints = append(rf.Constraints, r)
		} else {
			rf.Requirements = append(rf.Requirements, r)
		}
	}
	return errors.Join(errs...)
}

// option handles a line starting with "-".
func (rf *RequirementsFile) option(path, where, line string, constraints bool, stack []string) error {
	name, value := line, ""
	if i := strings.IndexAny(line, " \t="); i >= 0 {
		name, value = line[:i], strings.TrimSpace(strings.TrimLeft(line[i:], " \t="))
	} else if len(line) > 2 && line[1] != '-' { // -rfile
		name, value = line[:2], line[2:]
	}
	switch name {
	case "-r", "--requirement", "-c", "--constraint":
		if value == "" {
			return fmt.Errorf("%s: %s needs a file", where, name)
		}
		inc := value
		if !filepath.IsAbs(inc) {
			inc = filepath.Join(filepath.Dir(path), inc)
		}
		return rf.read(inc, constraints || name == "-c" || name == "--constraint", stack)
	case "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host",
		"--no-index", "--pre", "--prefer-binary", "--only-binary", "--no-binary", "--require-hashes":
		rf.Notes = append(rf.Notes, fmt.Sprintf("%s: %s ignored: pipbake lock reads only the wheelhouse", where, name))
		return nil
	case "-e", "--editable":
		return fmt.Errorf("%s: editable requirement %s is not supported; build a wheel of it into the wheelhouse and name the project", where, value)
	}
	return fmt.Errorf("%s: unknown or unsupported option %s", where, name)
}

// looksLikePath reports a requirement that is a file, folder or URL.
func looksLikePath(s string) bool {
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(s, "."), strings.HasPrefix(s, "/"), strings.HasPrefix(s, "~"), strings.HasPrefix(s, `\`):
		return true
	case strings.Contains(lower, "://"), strings.HasPrefix(lower, "file:"):
		return true
	case strings.HasSuffix(lower, ".whl"), strings.HasSuffix(lower, ".zip"), strings.HasSuffix(lower, ".tar.gz"):
		return true
	}
	for _, vcs := range []string{"git+", "hg+", "svn+", "bzr+"} {
		if strings.HasPrefix(lower, vcs) {
			return true
		}
	}
	return false
}

// logicalLine is a line after joining backslash continuations.
type logicalLine struct {
	num  int // first physical line, 1-based
	text string
}

// logicalLines joins lines ending in a backslash with the next, as pip
// does (a comment line ends a continuation).
func logicalLines(data []byte) []logicalLine {
	var out []logicalLine
	sc := bufio.NewScanner(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	sc.Buffer(make([]byte, 0, 64<<10), maxRequirementsFile)
	var cur strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if start == 0 {
			start = n
		}
		if strings.HasSuffix(line, `\`) && commentStart(line) < 0 {
			cur.WriteString(strings.TrimSuffix(line, `\`))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		out = append(out, logicalLine{start, cur.String()})
		cur.Reset()
		start = 0
	}
	if start != 0 {
		out = append(out, logicalLine{start, cur.String()})
	}
	return out
}

// commentStart returns where a comment starts (a '#' at the start of the
// line or after whitespace), or -1.
func commentStart(line string) int {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return i
		}
	}
	return -1
}
