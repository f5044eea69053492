package lock

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Keys defined by PEP 751 lock-version 1.0.
var (
	topLevelKeys = []string{
		"lock-version", "environments", "requires-python", "extras", "dependency-groups",
		"default-groups", "created-by", "packages", "tool",
	}
	packageKeys = []string{
		"name", "version", "marker", "requires-python", "dependencies", "vcs", "directory",
		"archive", "index", "sdist", "wheels", "attestation-identities", "tool",
	}
	wheelKeys = []string{"name", "upload-time", "url", "path", "size", "hashes"}
)

// pylockParser holds the state of one pylock.toml.
type pylockParser struct {
	lock     *Lock
	errs     *errList
	lines    tomlLines
	version  string // lock-version as written
	newMinor bool   // lock-version is 1.x with x > 0
}

func parsePyLock(l *Lock, text string) error {
	p := &pylockParser{lock: l, errs: &errList{file: l.Path}, lines: scanTOML(text)}
	var doc map[string]any
	if _, err := toml.Decode(text, &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &Error{File: l.Path, Line: pe.Position.Line, Msg: "invalid TOML: " + pe.Message, Err: err}
		}
		return &Error{File: l.Path, Msg: "invalid TOML", Err: err}
	}

	if !p.lockVersion(doc) {
		return p.errs.err() // an unsupported version: the rest may mean anything
	}
	if _, ok := p.str(doc, "created-by", p.lines.key("created-by"), "the lock"); !ok {
		if _, present := doc["created-by"]; !present {
			p.errs.add(0, nil, "missing created-by (required by PEP 751)")
		}
	}
	if rp, ok := p.str(doc, "requires-python", p.lines.key("requires-python"), "the lock"); ok {
		if _, err := pep440.ParseSpecifier(rp); err != nil {
			p.errs.add(p.lines.key("requires-python"), err, "invalid requires-python")
		} else {
			l.RequiresPython, l.requiresPythonLine = rp, p.lines.key("requires-python")
		}
	}
	if envs, ok := p.strList(doc, "environments", p.lines.key("environments"), "the lock"); ok {
		l.environmentsLine = p.lines.key("environments")
		for _, m := range envs {
			if _, err := marker.Parse(m); err != nil {
				p.errs.add(l.environmentsLine, err, "invalid marker in environments")
			}
		}
		l.Environments = envs
	}
	for _, k := range []string{"extras", "dependency-groups"} {
		p.strList(doc, k, p.lines.key(k), "the lock")
	}
	if groups, ok := p.strList(doc, "default-groups", p.lines.key("default-groups"), "the lock"); ok {
		l.DefaultGroups = groups
	}
	p.unknownKeys(doc, topLevelKeys, 0, "the top level")

	raw, present := doc["packages"]
	if !present {
		p.errs.add(0, nil, "missing [[packages]] (required by PEP 751)")
		return p.errs.err()
	}
	pkgs, ok := tables(raw)
	if !ok {
		p.errs.add(p.lines.key("packages"), nil, "packages must be an array of tables")
		return p.errs.err()
	}
	pkgLines := p.lines.packages
	if len(pkgLines) != len(pkgs) {
		// e.g. an inline `packages = [...]`: attribute everything to its key.
		pkgLines = make([]int, len(pkgs))
		for i := range pkgLines {
			pkgLines[i] = p.lines.key("packages")
		}
	}
	var canon []string
	for i, pkg := range pkgs {
		if pin, c, ok := p.pkg(pkg, i, pkgLines[i]); ok {
			l.Pins = append(l.Pins, pin)
			canon = append(canon, c)
		}
	}
	checkDuplicates(l.Pins, canon, p.errs)
	return p.errs.err()
}

// lockVersion checks lock-version and reports whether parsing can go on.
func (p *pylockParser) lockVersion(doc map[string]any) bool {
	line := p.lines.key("lock-version")
	v, ok := p.str(doc, "lock-version", line, "the lock")
	if !ok {
		if _, present := doc["lock-version"]; !present {
			p.errs.add(0, nil, "missing lock-version (a pylock.toml must declare lock-version = \"1.0\")")
		}
		return false
	}
	major, minor, _ := strings.Cut(v, ".")
	mj, err1 := strconv.Atoi(major)
	mn, err2 := strconv.Atoi(minor)
	if minor == "" {
		mn, err2 = 0, nil
	}
	switch {
	case err1 != nil || err2 != nil || mj < 0 || mn < 0:
		p.errs.add(line, nil, "invalid lock-version %q: want MAJOR.MINOR such as \"1.0\"", v)
		return false
	case mj != 1:
		p.errs.add(line, nil, "lock-version %q is not supported: pipbake reads lock-version 1.x", v)
		return false
	}
	p.version = v
	p.newMinor = mn > 0
	return true
}

// pkg converts one [[packages]] entry. It returns the pin, its canonical
// marker and whether the entry was valid.
func (p *pylockParser) pkg(pkg map[string]any, index, line int) (Pin, string, bool) {
	errsBefore := len(p.errs.errs)
	what := fmt.Sprintf("packages[%d]", index)
	name, ok := p.str(pkg, "name", line, what)
	if !ok {
		if _, present := pkg["name"]; !present {
			p.errs.add(line, nil, "%s has no name", what)
		}
		return Pin{}, "", false
	}
	if !pyname.Valid(name) {
		p.errs.add(line, nil, "invalid package name %q", name)
		return Pin{}, "", false
	}
	what = fmt.Sprintf("package %q", name)
	pin := Pin{Name: name, Line: line}

	if v, ok := p.str(pkg, "version", line, what); ok {
		if _, err := pep440.Parse(v); err != nil {
			p.errs.add(line, err, "%s has an invalid version", what)
		}
		pin.Version = v
	} else if _, present := pkg["version"]; !present {
		p.errs.add(line, nil, "%s has no version; pipbake installs exactly pinned versions only", what)
	}

	canon := ""
	if m, ok := p.str(pkg, "marker", line, what); ok {
		e, err := marker.Parse(m)
		switch {
		case err != nil:
			p.errs.add(line, err, "%s has an invalid marker", what)
		case slices.Contains(e.Variables(), "extra"):
			p.errs.add(line, nil, "%s has a marker using the extra variable, which PEP 751 forbids in lock files (use \"name\" in extras)", what)
		}
		pin.Marker, canon = m, e.String()
	}
	if rp, ok := p.str(pkg, "requires-python", line, what); ok {
		if _, err := pep440.ParseSpecifier(rp); err != nil {
			p.errs.add(line, err, "%s has an invalid requires-python", what)
		}
		pin.RequiresPython = rp
	}
	if idx, ok := p.str(pkg, "index", line, what); ok {
		pin.Index = idx
	}

	var others []string
	for _, k := range []string{"sdist", "vcs", "directory", "archive"} {
		if v, present := pkg[k]; present {
			if _, isTable := v.(map[string]any); !isTable {
				p.errs.add(line, nil, "%s: %s must be a table", what, k)
			}
			others = append(others, k)
		}
	}
	hasWheels := false
	if raw, present := pkg["wheels"]; present {
		wheels, ok := tables(raw)
		if !ok {
			p.errs.add(line, nil, "%s: wheels must be an array of tables", what)
		}
		hasWheels = len(wheels) > 0
		for i, w := range wheels {
			if f, ok := p.wheel(w, i, line, name, pin.Version); ok {
				pin.Wheels = append(pin.Wheels, f)
				for _, h := range f.Hashes {
					pin.Hashes = appendHash(pin.Hashes, h)
				}
			}
		}
	}
	switch {
	case !hasWheels && len(others) > 0:
		p.errs.add(line, nil, "%s has no wheels, only %s; pipbake installs wheels only (build a wheel and lock it)", what, orList(others))
	case !hasWheels:
		p.errs.add(line, nil, "%s has no wheels; pipbake installs wheels only", what)
	default:
		others = slices.DeleteFunc(others, func(k string) bool { return k == "sdist" })
		if len(others) > 0 {
			p.errs.add(line, nil, "%s lists wheels and a %s source, which PEP 751 makes mutually exclusive", what, orList(others))
		}
	}
	p.unknownKeys(pkg, packageKeys, line, what)
	return pin, canon, len(p.errs.errs) == errsBefore
}

// wheel converts one entry of packages.wheels.
func (p *pylockParser) wheel(w map[string]any, index, line int, pkg, version string) (File, bool) {
	errsBefore := len(p.errs.errs)
	what := fmt.Sprintf("wheel %d of package %q", index+1, pkg)
	var f File
	f.Name, _ = p.str(w, "name", line, what)
	f.URL, _ = p.str(w, "url", line, what)
	f.Path, _ = p.str(w, "path", line, what)
	if f.URL == "" && f.Path == "" {
		p.errs.add(line, nil, "%s has neither url nor path", what)
		return f, false
	}
	if f.Name == "" {
		f.Name = fileName(f.URL, f.Path)
	}
	what = fmt.Sprintf("wheel %q of package %q", f.Name, pkg)
	if err := checkWheelName(f.Name, pkg, version); err != nil {
		p.errs.add(line, err, "%s", what)
	}
	if raw, present := w["size"]; present {
		n, ok := raw.(int64)
		if !ok || n < 0 {
			p.errs.add(line, nil, "%s: size must be a non-negative integer", what)
		}
		f.Size = n
	}
	raw, present := w["hashes"]
	hashes, isTable := raw.(map[string]any)
	switch {
	case !present:
		p.errs.add(line, nil, "%s has no hashes", what)
	case !isTable:
		p.errs.add(line, nil, "%s: hashes must be a table such as {sha256 = \"…\"}", what)
	case len(hashes) == 0:
		p.errs.add(line, nil, "%s has an empty hashes table", what)
	}
	algos := make([]string, 0, len(hashes))
	for a := range hashes {
		algos = append(algos, a)
	}
	slices.Sort(algos)
	for _, a := range algos {
		digest, ok := hashes[a].(string)
		if !ok {
			p.errs.add(line, nil, "%s: hash %s must be a string", what, a)
			continue
		}
		h, err := newHash(a, digest)
		if err != nil {
			p.errs.add(line, err, "%s has a malformed hash", what)
			continue
		}
		f.Hashes = append(f.Hashes, h)
	}
	if len(hashes) > 0 && !slices.ContainsFunc(algos, func(a string) bool { return strings.EqualFold(a, "sha256") }) {
		p.errs.add(line, nil, "%s has no sha256 hash; pipbake verifies wheels by sha256", what)
	}
	p.unknownKeys(w, wheelKeys, line, what)
	return f, len(p.errs.errs) == errsBefore
}

// fileName derives a file name from the last component of a URL or path.
func fileName(rawURL, filePath string) string {
	if filePath != "" {
		return filePath[strings.LastIndexAny(filePath, `/\`)+1:]
	}
	if u, err := url.Parse(rawURL); err == nil {
		return path.Base(u.Path)
	}
	return path.Base(rawURL)
}

// checkWheelName checks that a wheel file name is well formed and names the
// package and version it is listed under.
func checkWheelName(name, pkg, version string) error {
	stem, ok := strings.CutSuffix(name, ".whl")
	if !ok {
		return errors.New("is not a .whl file")
	}
	parts := strings.Split(stem, "-")
	if len(parts) != 5 && len(parts) != 6 {
		return errors.New("is not a valid wheel file name (want name-version[-build]-python-abi-platform.whl)")
	}
	if pyname.Normalize(parts[0]) != pyname.Normalize(pkg) {
		return fmt.Errorf("is for project %q, not %q", parts[0], pkg)
	}
	if version == "" {
		return nil
	}
	pv, err := pep440.Parse(version)
	if err != nil {
		return nil // reported for the package
	}
	wv, err := pep440.Parse(parts[1])
	if err != nil || pep440.Compare(wv, pv) != 0 {
		return fmt.Errorf("is version %s, but the package is pinned to %s", parts[1], version)
	}
	return nil
}

func orList(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// str returns table[key] as a string; it reports a type error and returns
// false when the value is present but not a string.
func (p *pylockParser) str(table map[string]any, key string, line int, what string) (string, bool) {
	raw, present := table[key]
	if !present {
		return "", false
	}
	s, ok := raw.(string)
	if !ok {
		p.errs.add(line, nil, "%s: %s must be a string, not %s", what, key, tomlType(raw))
	}
	return s, ok
}

// strList returns table[key] as an array of strings.
func (p *pylockParser) strList(table map[string]any, key string, line int, what string) ([]string, bool) {
	raw, present := table[key]
	if !present {
		return nil, false
	}
	arr, ok := raw.([]any)
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		s, isStr := v.(string)
		ok = ok && isStr
		out = append(out, s)
	}
	if !ok {
		p.errs.add(line, nil, "%s: %s must be an array of strings", what, key)
		return nil, false
	}
	return out, true
}

// unknownKeys records a warning for keys lock-version 1.0 does not define.
func (p *pylockParser) unknownKeys(table map[string]any, known []string, line int, what string) {
	var unknown []string
	for k := range table {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		loc := p.lock.Path
		if line > 0 {
			loc += ":" + strconv.Itoa(line)
		}
		msg := fmt.Sprintf("%s: %s has key %q, which lock-version 1.0 does not define", loc, what, k)
		if p.newMinor {
			msg += fmt.Sprintf(" (the file is lock-version %s; pipbake reads 1.0 and ignores it)", p.version)
		} else {
			msg += " (ignored)"
		}
		p.lock.Warnings = append(p.lock.Warnings, msg)
	}
}

// tables converts an array of tables, whether written as [[x]] or inline.
func tables(v any) ([]map[string]any, bool) {
	switch v := v.(type) {
	case []map[string]any:
		return v, true
	case []any:
		out := make([]map[string]any, 0, len(v))
		for _, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	return nil, false
}

func tomlType(v any) string {
	switch v.(type) {
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// tomlLines records where things are in a TOML text. BurntSushi/toml does
// not expose key positions, so this scans the text for [[packages]] headers
// and top-level keys, skipping multi-line strings.
type tomlLines struct {
	packages []int          // line of each [[packages]] header
	keys     map[string]int // line of each top-level key
}

func (t tomlLines) key(k string) int { return t.keys[k] }

var (
	packagesHeader = regexp.MustCompile(`^\[\[\s*(packages|"packages"|'packages')\s*\]\]\s*(#.*)?$`)
	topLevelKey    = regexp.MustCompile(`^("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=`)
)

func scanTOML(text string) tomlLines {
	t := tomlLines{keys: map[string]int{}}
	inString := "" // the delimiter of the multi-line string being skipped
	topLevel := true
	for i, line := range strings.Split(text, "\n") {
		if inString != "" {
			if strings.Count(line, inString)%2 == 1 {
				inString = ""
			}
			continue
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case packagesHeader.MatchString(trimmed):
			t.packages = append(t.packages, i+1)
			topLevel = false
		case strings.HasPrefix(trimmed, "["):
			topLevel = false
		case topLevel:
			if m := topLevelKey.FindStringSubmatch(trimmed); m != nil {
				k := strings.Trim(m[1], `"'`)
				if _, dup := t.keys[k]; !dup {
					t.keys[k] = i + 1
				}
			}
		}
		for _, delim := range []string{`"""`, `'''`} {
			if strings.Count(line, delim)%2 == 1 {
				inString = delim
				break
			}
		}
	}
	return t
}
