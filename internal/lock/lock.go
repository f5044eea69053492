// Package lock reads pinned Python package sets from the two lock formats
// pipbake accepts — requirements files as written by pip-compile and
// `uv pip compile --generate-hashes`, and PEP 751 pylock.toml files — into
// one Lock type.
//
// Parsing is strict: anything that is not an exact, hashed pin of a wheel
// (ranges, wildcards, includes, editables, URLs, source-only packages,
// malformed hashes or markers, …) is refused with an *Error naming the file
// and line. All problems in a file are reported together.
package lock

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Format identifies a lock file format.
type Format string

// The supported formats.
const (
	Requirements Format = "requirements"
	PyLock       Format = "pylock"
)

// Hash is one digest of a distribution file.
type Hash struct {
	Algorithm string // lower case, e.g. "sha256"
	Hex       string // lower-case hex digest
}

// File is a wheel listed for a package in a pylock.toml.
type File struct {
	Name   string // wheel file name; derived from URL or Path when not written
	URL    string
	Path   string // relative paths are relative to the lock file
	Size   int64  // 0 when not recorded
	Hashes []Hash
}

// Pin is one exactly pinned package.
type Pin struct {
	Name    string   // as written
	Version string   // the exact pinned version string as written
	Extras  []string // requirements only
	Marker  string   // raw marker text, "" when none
	Hashes  []Hash   // requirements: all --hash values; pylock: union of the wheel hashes
	Wheels  []File   // pylock only: the package's wheels
	Index   string   // pylock package `index`, if any
	Line    int      // 1-based line where the requirement (or [[packages]] table) starts

	// RequiresPython is the pylock package's requires-python ("" if none).
	RequiresPython string
}

// Key returns the PEP 503 normalized name used to compare packages.
func (p Pin) Key() string { return pyname.Normalize(p.Name) }

// SHA256 returns the pin's sha256 digests (other algorithms are ignored).
func (p Pin) SHA256() []string {
	var out []string
	for _, h := range p.Hashes {
		if h.Algorithm == "sha256" {
			out = append(out, h.Hex)
		}
	}
	return out
}

// Lock is a parsed lock file.
type Lock struct {
	Path   string // as given
	SHA256 string // hex sha256 of the file's bytes
	Format Format
	Pins   []Pin // in file order

	IndexURL       string   // requirements: --index-url / -i
	ExtraIndexURLs []string // requirements: --extra-index-url
	FindLinks      []string // requirements: --find-links / -f
	TrustedHosts   []string // requirements: --trusted-host
	// NoIndex is set by --no-index: fetch uses only FindLinks.
	NoIndex bool

	RequiresPython string   // pylock: requires-python
	Environments   []string // pylock: environments (markers; one must match)
	DefaultGroups  []string // pylock: default-groups
	// Warnings lists things a reader should know but that do not stop
	// installation, such as keys unknown to lock-version 1.0.
	Warnings []string

	requiresPythonLine int
	environmentsLine   int
}

// ErrUnknownFormat is wrapped by the error returned for a file that is
// neither a requirements file nor a pylock.toml.
var ErrUnknownFormat = errors.New("unknown lock format")

// Error is a problem in a lock file. Line is 0 when it concerns the whole file.
type Error struct {
	File string
	Line int
	Msg  string
	Err  error // underlying cause, if any; its text follows Msg
}

func (e *Error) Error() string {
	return capMessage(e.message())
}

func (e *Error) message() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil && e.Err != ErrUnknownFormat {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// errList collects the *Error values of one file.
type errList struct {
	file string
	errs []*Error
}

// add records a problem. String arguments are cut to a readable length,
// so that a hostile value is not repeated whole.
func (l *errList) add(line int, cause error, format string, args ...any) {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = shorten(s)
		}
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...), Err: cause})
}

// err returns nil, the single error, or the errors joined, ordered by
// line: the first MaxProblems of them and then a count of the others.
func (l *errList) err() error {
	switch len(l.errs) {
	case 0:
		return nil
	case 1:
		return l.errs[0]
	}
	slices.SortStableFunc(l.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	errs := make([]error, 0, MaxProblems+1)
	for _, e := range l.errs[:min(len(l.errs), MaxProblems)] {
		errs = append(errs, e)
	}
	if more := len(l.errs) - MaxProblems; more > 0 {
		errs = append(errs, &Error{File: l.file, Msg: fmt.Sprintf("... and %d more problems (the first %d are shown)", more, MaxProblems)})
	}
	return errors.Join(errs...)
}

// ParseFile reads and parses the lock file at path. A file larger than
// MaxFileBytes is refused unread.
func ParseFile(path string) (*Lock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading lock file: %w", err)
	}
	defer f.Close()
	// A regular file's size says it all; the LimitReader bounds the rest
	// (a pipe, a file still growing).
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxFileBytes {
		return nil, &Error{File: path, Msg: fmt.Sprintf("the file is %d bytes; the limit for a lock file is %d", fi.Size(), MaxFileBytes)}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading lock file %q: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, &Error{File: path, Msg: fmt.Sprintf("the file is larger than the limit of %d bytes for a lock file", MaxFileBytes)}
	}
	return Parse(path, data)
}

// Parse parses lock file data. path is used for messages and for format
// detection only.
//
// Input beyond the limits (MaxFileBytes, MaxLineBytes, MaxNesting) is
// refused with an *Error naming the file and line; at most MaxProblems
// problems are reported, then a count of the others.
func Parse(path string, data []byte) (*Lock, error) {
	if len(data) > MaxFileBytes {
		return nil, &Error{File: path, Msg: fmt.Sprintf("the file is %d bytes; the limit for a lock file is %d", len(data), MaxFileBytes)}
	}
	if err := checkLines(path, data); err != nil {
		return nil, err
	}
	format, err := detect(path, data)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	l := &Lock{Path: path, SHA256: hex.EncodeToString(sum[:]), Format: format}
	text := strings.TrimPrefix(string(data), "\ufeff")
	if format == PyLock {
		if err := checkTOMLNesting(path, text); err != nil {
			return nil, err
		}
		err = parsePyLock(l, text)
	} else {
		err = parseRequirements(l, text)
	}
	if err != nil {
		return nil, err
	}
	l.Warnings = capWarnings(l.Warnings)
	return l, nil
}

// pylockName is the PEP 751 file name pattern.
var pylockName = regexp.MustCompile(`^pylock\.([^.]+\.)?toml$`)

// tomlKey matches a first line such as `version = 1` or `lock-version = "1.0"`.
var tomlKey = regexp.MustCompile(`^["']?[A-Za-z0-9_][A-Za-z0-9_.-]*["']?\s*=\s*[^=\s]`)

// detect decides the format of a lock file from its name and content.
func detect(path string, data []byte) (Format, error) {
	base := filepath.Base(path)
	if pylockName.MatchString(strings.ToLower(base)) {
		return PyLock, nil
	}
	unknown := func(what string) error {
		return &Error{File: path, Err: ErrUnknownFormat, Msg: "unknown lock format: " + what +
			"; expected a requirements file (pip-compile or uv pip compile output) or a PEP 751 pylock.toml"}
	}
	if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
		return "", unknown("the file is binary or not UTF-8 text")
	}
	text := strings.TrimPrefix(string(data), "\ufeff")
	first := firstSignificantLine(text)
	if strings.HasPrefix(first, "{") || strings.EqualFold(filepath.Ext(base), ".json") {
		return "", unknown("the file looks like JSON (such as a Pipfile.lock)")
	}
	isTOML := strings.EqualFold(filepath.Ext(base), ".toml")
	if !isTOML && !strings.HasPrefix(first, "[") && !tomlKey.MatchString(first) {
		return Requirements, nil
	}
	if err := checkTOMLNesting(path, text); err != nil {
		return "", err
	}
	var doc map[string]any
	if _, err := toml.Decode(text, &doc); err != nil {
		if isTOML {
			return "", unknown(fmt.Sprintf("the file is not valid TOML (%v)", err))
		}
		return Requirements, nil // not TOML after all; let the requirements parser report
	}
	if _, ok := doc["lock-version"]; ok {
		return PyLock, nil
	}
	if _, ok := doc["package"]; ok {
		return "", unknown("the file is TOML without lock-version (it looks like a poetry.lock or uv.lock, which are tool-specific; export a pylock.toml or requirements file from it)")
	}
	return "", unknown("the file is TOML without lock-version")
}

func firstSignificantLine(text string) string {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}

// ForEnv returns the pins whose markers hold in env, in file order. For a
// pylock it also enforces requires-python and environments as PEP 751
// requires; when env has no "dependency_groups", the lock's default-groups
// are used. Two matching pins of the same package are an error.
func (l *Lock) ForEnv(env marker.Env) ([]Pin, error) {
	errs := &errList{file: l.Path}
	// pip evaluates a requirements file's markers as core metadata ("extra"
	// is ""); PEP 751 gives lock files "extras" and "dependency_groups".
	ctx := marker.Metadata
	if l.Format == PyLock {
		ctx = marker.LockFile
		if _, ok := env["dependency_groups"]; !ok && len(l.DefaultGroups) > 0 {
			env = maps.Clone(env)
			if env == nil {
				env = marker.Env{}
			}
			env["dependency_groups"] = strings.Join(l.DefaultGroups, ",")
		}
		if l.RequiresPython != "" {
			if err := checkRequiresPython(l.RequiresPython, env); err != nil {
				errs.add(l.requiresPythonLine, err, "the lock's requires-python is not met")
			}
		}
		if len(l.Environments) > 0 {
			matched, failed := false, false
			for _, m := range l.Environments {
				ok, err := marker.EvaluateIn(m, env, ctx)
				if err != nil {
					errs.add(l.environmentsLine, err, "checking environments")
					failed = true
				}
				matched = matched || ok
			}
			if !matched && !failed {
				errs.add(l.environmentsLine, nil, "the lock does not support this environment: none of its environments (%s) matches", strings.Join(l.Environments, "; "))
			}
		}
		if len(errs.errs) > 0 {
			return nil, errs.err()
		}
	}
	var out []Pin
	chosen := map[string]Pin{}
	for _, p := range l.Pins {
		if p.Marker != "" {
			ok, err := marker.EvaluateIn(p.Marker, env, ctx)
			if err != nil {
				errs.add(p.Line, err, "package %q", p.Name)
				continue
			}
			if !ok {
				continue
			}
		}
		if p.RequiresPython != "" {
			if err := checkRequiresPython(p.RequiresPython, env); err != nil {
				errs.add(p.Line, err, "package %q", p.Name)
				continue
			}
		}
		if prev, dup := chosen[p.Key()]; dup {
			errs.add(p.Line, nil, "package %q is selected twice for this environment (lines %d and %d); its markers must be mutually exclusive", p.Name, prev.Line, p.Line)
			continue
		}
		chosen[p.Key()] = p
		out = append(out, p)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// checkRequiresPython checks a requires-python specifier against the
// environment's python_full_version (or python_version).
func checkRequiresPython(spec string, env marker.Env) error {
	set, err := pep440.ParseSpecifier(spec)
	if err != nil {
		return err
	}
	py := env["python_full_version"]
	if py == "" {
		py = env["python_version"]
	}
	if py == "" {
		return fmt.Errorf("requires-python %q cannot be checked: the environment has no python_full_version", spec)
	}
	v, err := pep440.Parse(py)
	if err != nil {
		return fmt.Errorf("checking requires-python %q: %w", spec, err)
	}
	if !set.Contains(v) {
		return fmt.Errorf("requires-python %q excludes Python %s", spec, py)
	}
	return nil
}

// checkDuplicates refuses a package pinned twice unless both pins have
// markers and the markers differ (ForEnv then checks they never both hold).
// canon holds each pin's canonical marker text.
func checkDuplicates(pins []Pin, canon []string, errs *errList) {
	first := map[string][]int{}
	for i, p := range pins {
		for _, j := range first[p.Key()] {
			if canon[i] == "" || canon[j] == "" || canon[i] == canon[j] {
				why := "with the same marker"
				if canon[i] == "" || canon[j] == "" {
					why = "and not every pin has a marker"
				}
				errs.add(p.Line, nil, "package %q is pinned twice (lines %d and %d) %s; duplicate pins need mutually exclusive markers", p.Name, pins[j].Line, p.Line, why)
				break
			}
		}
		first[p.Key()] = append(first[p.Key()], i)
	}
}

// hexDigits is the digest length of the algorithms in hashlib.algorithms_guaranteed.
var hexDigits = map[string]int{
	"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128,
	"sha3_224": 56, "sha3_256": 64, "sha3_384": 96, "sha3_512": 128,
	"blake2b": 128, "blake2s": 64,
}

// newHash validates and normalizes a digest.
func newHash(algorithm, digest string) (Hash, error) {
	h := Hash{Algorithm: strings.ToLower(algorithm), Hex: strings.ToLower(digest)}
	if h.Algorithm == "" {
		return h, errors.New("empty hash algorithm")
	}
	if h.Hex == "" {
		return h, fmt.Errorf("empty %s digest", h.Algorithm)
	}
	if strings.Trim(h.Hex, "0123456789abcdef") != "" {
		return h, fmt.Errorf("%s digest %q is not hexadecimal", h.Algorithm, digest)
	}
	if n, ok := hexDigits[h.Algorithm]; ok && len(h.Hex) != n {
		return h, fmt.Errorf("%s digest %q has %d hex digits, want %d", h.Algorithm, digest, len(h.Hex), n)
	}
	return h, nil
}
