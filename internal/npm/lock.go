package npm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Limits on what a lock file may hold, so hostile input fails with a
// clear error instead of exhausting memory or the stack. The largest
// real locks (monorepos of thousands of packages) are a few MiB.
const (
	// MaxLockBytes is the largest lock file read.
	MaxLockBytes = 64 << 20
	// MaxNesting is the deepest nesting of JSON arrays and objects.
	MaxNesting = 64
	// MaxPackages is the most entries "packages" may have.
	MaxPackages = 200_000
	// MaxProblems is how many problems a lock reports; a count of the
	// others follows them.
	MaxProblems = 20
)

// Lock is a package-lock.json or npm-shrinkwrap.json.
type Lock struct {
	// Path is the file as given; SHA256 its content's hash, in hex.
	Path   string
	SHA256 string
	// Name and Version are the lock's own (the project's).
	Name, Version string
	// LockfileVersion is 2 or 3.
	LockfileVersion int
	// Root is the entry "" (the project itself); never nil.
	Root *Package
	// Packages are the other entries, sorted by Path.
	Packages []*Package
	byPath   map[string]*Package
	data     []byte
}

// Bytes is the lock file's content.
func (l *Lock) Bytes() []byte { return l.data }

// Package is one entry of the lock's "packages".
type Package struct {
	// Path is the entry's key: where it is installed, relative to the
	// project ("node_modules/a/node_modules/@s/b"); "" for the root.
	Path string
	// Name is the package's own name: the entry's "name" (an alias
	// installs a package under another folder name), else the folder name.
	Name    string
	Version string
	// Resolved is where the tarball comes from ("" for registry packages
	// of a lock written without it: the registry's usual place); for a
	// link, the folder it points to, relative to the project.
	Resolved  string
	Integrity Integrity
	Link      bool
	// Dependency flags, as npm computed them.
	Dev, Optional, DevOptional, Peer bool
	// InBundle: the package comes inside an ancestor's tarball.
	InBundle         bool
	HasInstallScript bool
	Extraneous       bool
	License          string
	// Bin maps program names to files in the package, normalised as npm
	// does (npm-normalize-package-bin).
	Bin     map[string]string
	Engines map[string]string
	// OS, CPU and Libc are the platforms the package is for ("!x"
	// excludes x); nil for any.
	OS, CPU, Libc []string
	// Dependencies by name, with the ranges the package asked for.
	Dependencies, OptionalDependencies, PeerDependencies, DevDependencies map[string]string
	// PeerOptional names the peer dependencies marked optional.
	PeerOptional map[string]bool
	// Raw is the entry as the lock holds it.
	Raw json.RawMessage
	// Line is where the entry's key is in the file.
	Line int
}

// ID is name@version, for messages.
func (p *Package) ID() string {
	if p.Version == "" {
		return p.Name
	}
	return p.Name + "@" + p.Version
}

// Label names the entry for messages: its path, and name@version when
// they say more.
func (p *Package) Label() string {
	if p.Path == "" {
		return "the project (packages[\"\"])"
	}
	if p.Name == "" || p.Version == "" {
		return p.Path
	}
	return p.Path + " (" + p.ID() + ")"
}

// Kind says where a package's tarball comes from.
type Kind int

const (
	// Registry: a registry tarball (resolved is the registry's URL for
	// it, or absent).
	Registry Kind = iota
	// Remote: a tarball at another http(s) URL.
	Remote
	// LocalTarball: a tarball on disk ("file:path.tgz", relative to the
	// lock).
	LocalTarball
	// Linked: a symlink to a folder of the project.
	Linked
	// Bundled: inside an ancestor's tarball.
	Bundled
	// Folder: a folder of the project itself (a workspace), a link's
	// target; its files come with the app.
	Folder
)

// Kind classifies the entry (the lock was checked: every entry is one).
func (p *Package) Kind() Kind {
	switch {
	case p.Link:
		return Linked
	case p.InBundle:
		return Bundled
	case nameFromPath(p.Path) == "":
		return Folder
	case strings.HasPrefix(p.Resolved, "file:"):
		return LocalTarball
	case p.Resolved == "" || isRegistryURL(p.Resolved, p.Name):
		return Registry
	}
	return Remote
}

// isRegistryURL says whether u has a registry's tarball path for the
// package: .../<name>/-/<base>-<version>.tgz.
func isRegistryURL(u, name string) bool {
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return false
	}
	rest := u[strings.Index(u, "://")+3:]
	_, p, ok := strings.Cut(rest, "/")
	if !ok {
		return false
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	// Scoped names may be escaped in the URL: @scope%2fname.
	p = strings.Replace(p, "%2f", "/", 1)
	p = strings.Replace(p, "%2F", "/", 1)
	i := strings.Index(p, name+"/-/")
	return i >= 0 && (i == 0 || p[i-1] == '/') && strings.HasSuffix(p, ".tgz")
}

// RegistryTail is the part of a registry tarball URL from the package
// name on ("@babel/core/-/core-7.26.0.tgz"), which a registry base
// replaces the host and path before; for an entry without resolved, the
// registry's usual place for it.
func (p *Package) RegistryTail() string {
	if p.Resolved == "" || !isRegistryURL(p.Resolved, p.Name) {
		return RegistryPath(p.Name, p.Version)
	}
	rest := p.Resolved[strings.Index(p.Resolved, "://")+3:]
	_, tail, _ := strings.Cut(rest, "/")
	if i := strings.IndexAny(tail, "?#"); i >= 0 {
		tail = tail[:i]
	}
	tail = strings.Replace(strings.Replace(tail, "%2f", "/", 1), "%2F", "/", 1)
	i := strings.Index(tail, p.Name+"/-/")
	for i > 0 && tail[i-1] != '/' { // the name is a whole segment
		j := strings.Index(tail[i+1:], p.Name+"/-/")
		if j < 0 {
			return RegistryPath(p.Name, p.Version)
		}
		i += 1 + j
	}
	t := tail[i:]
	// The file name must be a plain name: it becomes a URL path only.
	if strings.Contains(t[len(p.Name)+3:], "/") || strings.Contains(t, "..") {
		return RegistryPath(p.Name, p.Version)
	}
	return t
}

// Get returns the entry at a path.
func (l *Lock) Get(p string) *Package {
	if p == "" {
		return l.Root
	}
	return l.byPath[p]
}

// Error is a lock file that cannot be installed: every problem found (up
// to MaxProblems), each with its line and package path.
type Error struct {
	File     string
	Problems []Problem
	// More counts the problems beyond MaxProblems.
	More int
}

// Problem is one reason a lock is refused.
type Problem struct {
	Line int
	// Path is the package's key in "packages" ("" for the file as a whole).
	Path string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		b.WriteString(p.Msg)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n%s: and %d more problems", e.File, e.More)
	}
	return b.String()
}

type problems struct {
	file string
	list []Problem
	more int
}

func (ps *problems) add(line int, path, format string, args ...any) {
	if len(ps.list) >= MaxProblems {
		ps.more++
		return
	}
	ps.list = append(ps.list, Problem{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &Error{File: ps.file, Problems: ps.list, More: ps.more}
}

// ReadLock reads and checks a lock file.
func ReadLock(p string) (*Lock, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("read npm lock file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxLockBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read npm lock file %s: %w", p, err)
	}
	return ParseLock(p, data)
}

// IsLockFile reports whether a file name is one of npm's lock files
// (package-lock.json, npm-shrinkwrap.json, or .package-lock.json), the
// way a set's kind is told from its lock.
func IsLockFile(p string) bool {
	switch path.Base(strings.ReplaceAll(p, "\\", "/")) {
	case "package-lock.json", "npm-shrinkwrap.json", ".package-lock.json":
		return true
	}
	return false
}

// LooksLikeLock reports whether data is a JSON object with a
// "lockfileVersion": the way a lock file of another name is told apart
// from a requirements file or pylock.toml.
func LooksLikeLock(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(data) > 0 && data[0] == '{' && bytes.Contains(data[:min(len(data), 4096)], []byte(`"lockfileVersion"`))
}

// ParseLock checks and reads a lock file's content; p names it in
// messages. Every problem is reported (up to MaxProblems), each with its
// line and package path: lockfileVersion 1, an entry without integrity
// (links, bundled packages and the project's own folders excepted), git
// and other sources that are no tarball, hasShrinkwrap packages, and
// names, versions or paths that could not be installed safely.
func ParseLock(p string, data []byte) (*Lock, error) {
	ps := &problems{file: p}
	if len(data) > MaxLockBytes {
		ps.add(0, "", "npm lock file is larger than %d MiB", MaxLockBytes>>20)
		return nil, ps.err()
	}
	lines := lineIndex(data)
	if off, err := checkNesting(data); err != nil {
		ps.add(lines.at(off), "", "%v", err)
		return nil, ps.err()
	}
	sum := sha256.Sum256(data)
	l := &Lock{Path: p, SHA256: hex.EncodeToString(sum[:]), byPath: map[string]*Package{}, data: data}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		ps.add(lines.at(dec.InputOffset()), "", "not a JSON object: %v", err)
		return nil, ps.err()
	}
	var sawPackages, sawVersion bool
	seenTop := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			ps.add(lines.at(dec.InputOffset()), "", "not valid JSON: %v", err)
			return nil, ps.err()
		}
		key, _ := tok.(string)
		if seenTop[key] {
			ps.add(lines.at(dec.InputOffset()), "", "%s appears twice", quote(key))
			return nil, ps.err()
		}
		seenTop[key] = true
		switch key {
		case "packages":
			sawPackages = true
			if err := l.readPackages(dec, lines, data, ps); err != nil {
				ps.add(lines.at(dec.InputOffset()), "", "not valid JSON: %v", err)
				return nil, ps.err()
			}
		case "lockfileVersion":
			sawVersion = true
			var n json.Number
			line := lines.at(dec.InputOffset())
			if err := dec.Decode(&n); err != nil {
				ps.add(line, "", "lockfileVersion is not a number: %v", err)
				return nil, ps.err()
			}
			v, err := strconv.Atoi(n.String())
			if err != nil {
				ps.add(line, "", "lockfileVersion %s is not a whole number", quote(n.String()))
				return nil, ps.err()
			}
			l.LockfileVersion = v
		case "name", "version":
			var s string
			if err := dec.Decode(&s); err != nil {
				ps.add(lines.at(dec.InputOffset()), "", "%s is not a string", key)
				return nil, ps.err()
			}
			if key == "name" {
				l.Name = s
			} else {
				l.Version = s
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				ps.add(lines.at(dec.InputOffset()), "", "not valid JSON: %v", err)
				return nil, ps.err()
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		ps.add(lines.at(dec.InputOffset()), "", "not valid JSON: %v", err)
		return nil, ps.err()
	}
	if _, err := dec.Token(); err != io.EOF {
		ps.add(lines.at(dec.InputOffset()), "", "text after the JSON object")
		return nil, ps.err()
	}
	switch {
	case !sawVersion:
		ps.add(0, "", "no lockfileVersion: not an npm lock file (package-lock.json or npm-shrinkwrap.json)")
		return nil, ps.err()
	case l.LockfileVersion == 1:
		ps.add(0, "", "lockfileVersion 1 (npm 5 and 6) is not supported: write it again with npm 7 or newer (npm install --package-lock-only --lockfile-version 3)")
		return nil, ps.err()
	case l.LockfileVersion != 2 && l.LockfileVersion != 3:
		ps.add(0, "", "lockfileVersion %d is not supported (pipbake reads 2 and 3)", l.LockfileVersion)
		return nil, ps.err()
	case !sawPackages:
		ps.add(0, "", "no \"packages\": a lockfileVersion %d lock must have them", l.LockfileVersion)
		return nil, ps.err()
	}
	if l.Root == nil {
		l.Root = &Package{Name: l.Name, Version: l.Version}
	}
	if l.Root.Name == "" {
		l.Root.Name = l.Name
	}
	if l.Root.Version == "" {
		l.Root.Version = l.Version
	}
	sort.Slice(l.Packages, func(i, j int) bool { return l.Packages[i].Path < l.Packages[j].Path })
	l.check(ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return l, nil
}

// readPackages reads the "packages" object entry by entry, noting the
// line of each key.
func (l *Lock) readPackages(dec *json.Decoder, lines lineIdx, data []byte, ps *problems) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		line := lines.at(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if len(l.byPath)+1 > MaxPackages {
			ps.add(line, key, "more than %d packages", MaxPackages)
			return errors.New("too many packages")
		}
		if _, dup := l.byPath[key]; dup || (key == "" && l.Root != nil) {
			ps.add(line, key, "packages[%s] appears twice", quote(key))
			continue
		}
		pkg, err := decodeEntry(key, raw)
		if err != nil {
			ps.add(line, key, "packages[%s]: %v", quote(key), err)
			continue
		}
		pkg.Line = line
		if key == "" {
			l.Root = pkg
			continue
		}
		l.byPath[key] = pkg
		l.Packages = append(l.Packages, pkg)
	}
	_, err := dec.Token()
	return err
}

// entry is the JSON form of a "packages" value.
type entry struct {
	Name                 string          `json:"name"`
	Version              string          `json:"version"`
	Resolved             string          `json:"resolved"`
	Integrity            string          `json:"integrity"`
	Link                 bool            `json:"link"`
	Dev                  bool            `json:"dev"`
	Optional             bool            `json:"optional"`
	DevOptional          bool            `json:"devOptional"`
	Peer                 bool            `json:"peer"`
	InBundle             bool            `json:"inBundle"`
	HasInstallScript     bool            `json:"hasInstallScript"`
	HasShrinkwrap        bool            `json:"hasShrinkwrap"`
	Extraneous           bool            `json:"extraneous"`
	License              json.RawMessage `json:"license"`
	Bin                  json.RawMessage `json:"bin"`
	Engines              json.RawMessage `json:"engines"`
	OS                   json.RawMessage `json:"os"`
	CPU                  json.RawMessage `json:"cpu"`
	Libc                 json.RawMessage `json:"libc"`
	Dependencies         json.RawMessage `json:"dependencies"`
	OptionalDependencies json.RawMessage `json:"optionalDependencies"`
	PeerDependencies     json.RawMessage `json:"peerDependencies"`
	DevDependencies      json.RawMessage `json:"devDependencies"`
	PeerDependenciesMeta json.RawMessage `json:"peerDependenciesMeta"`
}

func decodeEntry(key string, raw json.RawMessage) (*Package, error) {
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s is a JSON %s, which npm never writes there", te.Field, te.Value)
		}
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	p := &Package{
		Path: key, Name: e.Name, Version: e.Version, Resolved: e.Resolved, Link: e.Link,
		Dev: e.Dev, Optional: e.Optional, DevOptional: e.DevOptional, Peer: e.Peer,
		InBundle: e.InBundle, HasInstallScript: e.HasInstallScript, Extraneous: e.Extraneous,
		Raw: raw,
	}
	if p.Name == "" {
		p.Name = nameFromPath(key)
	}
	if e.HasShrinkwrap {
		return nil, fmt.Errorf("%s has its own npm-shrinkwrap.json (hasShrinkwrap), whose dependencies this lock does not pin; pipbake refuses it", p.ID())
	}
	if e.Integrity != "" {
		in, err := ParseIntegrity(e.Integrity)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p.ID(), err)
		}
		p.Integrity = in
	}
	p.License = licenseOf(e.License)
	var err error
	if p.Bin, err = normalizeBin(p.Name, e.Bin); err != nil {
		return nil, fmt.Errorf("bin: %v", err)
	}
	p.Engines = stringMap(e.Engines)
	p.OS, p.CPU, p.Libc = stringList(e.OS), stringList(e.CPU), stringList(e.Libc)
	for _, d := range []struct {
		field string
		raw   json.RawMessage
		dst   *map[string]string
	}{
		{"dependencies", e.Dependencies, &p.Dependencies},
		{"optionalDependencies", e.OptionalDependencies, &p.OptionalDependencies},
		{"peerDependencies", e.PeerDependencies, &p.PeerDependencies},
		{"devDependencies", e.DevDependencies, &p.DevDependencies},
	} {
		if len(d.raw) == 0 || string(d.raw) == "null" {
			continue
		}
		if err := json.Unmarshal(d.raw, d.dst); err != nil {
			return nil, fmt.Errorf("%s is not an object of names and version ranges", d.field)
		}
	}
	if len(e.PeerDependenciesMeta) > 0 {
		var meta map[string]json.RawMessage
		if json.Unmarshal(e.PeerDependenciesMeta, &meta) == nil {
			for name, m := range meta {
				var o struct {
					Optional bool `json:"optional"`
				}
				if json.Unmarshal(m, &o) == nil && o.Optional {
					if p.PeerOptional == nil {
						p.PeerOptional = map[string]bool{}
					}
					p.PeerOptional[name] = true
				}
			}
		}
	}
	return p, nil
}

// check refuses the entries that cannot be installed exactly.
func (l *Lock) check(ps *problems) {
	for _, p := range l.Packages {
		if err := checkKey(p.Path); err != nil {
			ps.add(p.Line, p.Path, "packages[%s]: %v", quote(p.Path), err)
			continue
		}
		if p.Name != nameFromPath(p.Path) && p.Name != "" {
			if err := CheckName(p.Name); err != nil {
				ps.add(p.Line, p.Path, "%s: name: %v", p.Path, err)
				continue
			}
		}
		switch {
		case p.Link:
			if err := checkLinkTarget(p.Resolved); err != nil {
				ps.add(p.Line, p.Path, "%s: link to %s: %v", p.Path, quote(p.Resolved), err)
			}
			continue
		case p.InBundle:
			if err := l.checkBundled(p); err != nil {
				ps.add(p.Line, p.Path, "%s: %v", p.Label(), err)
			}
			continue
		case nameFromPath(p.Path) == "":
			// A folder of the project (a workspace): its files come with
			// the app; only links may point here.
			if p.Resolved != "" || !p.Integrity.IsZero() {
				ps.add(p.Line, p.Path, "%s is outside node_modules but has a resolved or integrity: not a folder of the project", p.Path)
			}
			continue
		}
		if err := CheckVersion(p.Version); err != nil {
			ps.add(p.Line, p.Path, "%s: %v", p.Label(), err)
			continue
		}
		if msg := sourceProblem(p); msg != "" {
			ps.add(p.Line, p.Path, "%s: %s", p.Label(), msg)
			continue
		}
		if p.Integrity.IsZero() {
			ps.add(p.Line, p.Path, "%s has no integrity: pipbake installs only tarballs the lock pins by hash; write the lock again with npm against a registry that sends integrity (npm install --package-lock-only)", p.Label())
		}
	}
	// A package may not live inside a link, nor inside a package laid out
	// from elsewhere in ways that would collide.
	for _, p := range l.Packages {
		for dir := parentPackage(p.Path); dir != ""; dir = parentPackage(dir) {
			if q := l.byPath[dir]; q != nil && q.Link {
				ps.add(p.Line, p.Path, "%s is inside %s, which is a link", p.Path, dir)
				break
			}
		}
	}
}

// sourceProblem says why a package's resolved is no tarball pipbake can
// install ("" when it is).
func sourceProblem(p *Package) string {
	r := p.Resolved
	lower := strings.ToLower(r)
	switch {
	case r == "":
		return ""
	case strings.HasPrefix(lower, "git+") || strings.HasPrefix(lower, "git:") || strings.HasPrefix(lower, "github:") ||
		strings.HasPrefix(lower, "gitlab:") || strings.HasPrefix(lower, "bitbucket:") || strings.HasPrefix(lower, "gist:") ||
		strings.HasPrefix(lower, "ssh:"):
		return fmt.Sprintf("git dependency %s: pipbake installs only tarballs pinned by integrity; publish it to a registry, or depend on its tarball URL", quote(redactURL(r)))
	case strings.HasPrefix(lower, "https://"), strings.HasPrefix(lower, "http://"):
		if p.Integrity.IsZero() && !isRegistryURL(r, p.Name) {
			return fmt.Sprintf("remote tarball %s has no integrity: pipbake installs only tarballs pinned by hash", quote(redactURL(r)))
		}
		return ""
	case strings.HasPrefix(lower, "file:"):
		if p.Integrity.IsZero() {
			return fmt.Sprintf("file dependency %s has no integrity: a folder dependency must be a link, a tarball must be pinned by hash", quote(r))
		}
		rel := strings.TrimPrefix(r[len("file:"):], "//")
		if rel == "" || strings.ContainsRune(rel, 0) {
			return fmt.Sprintf("file dependency %s names no file", quote(r))
		}
		return ""
	}
	return fmt.Sprintf("resolved %s is neither a registry or http(s) tarball nor a file: pipbake cannot fetch it", quote(redactURL(r)))
}

// redactURL drops a URL's user:password for messages.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host, tail, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = "***@" + host[i+1:]
		return scheme + "://" + host + "/" + tail
	}
	return u
}

// checkLinkTarget refuses a link that points outside the project.
func checkLinkTarget(t string) error {
	if t == "" {
		return errors.New("no target (resolved)")
	}
	t = strings.TrimPrefix(t, "file:")
	if strings.HasPrefix(t, "/") || strings.Contains(t, "\\") || strings.ContainsRune(t, 0) {
		return errors.New("not a relative path inside the project")
	}
	c := path.Clean(t)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return errors.New("outside the project: a release holds only the project and its node_modules")
	}
	return checkKey(c)
}

// LinkTarget is a link's target folder, relative to the project.
func (p *Package) LinkTarget() string {
	return path.Clean(strings.TrimPrefix(p.Resolved, "file:"))
}

// checkBundled checks that a bundled package lies inside a package that
// is not itself bundled and can bring it.
func (l *Lock) checkBundled(p *Package) error {
	for dir := parentPackage(p.Path); dir != ""; dir = parentPackage(dir) {
		q := l.byPath[dir]
		if q == nil {
			continue
		}
		if !q.InBundle {
			if q.Link || nameFromPath(q.Path) == "" {
				return fmt.Errorf("is bundled (inBundle) in %s, which has no tarball", q.Path)
			}
			return nil
		}
	}
	return errors.New("is bundled (inBundle) but no package above it has a tarball to bring it")
}

// parentPackage is the path of the package folder a lock path is nested
// in: "node_modules/a/node_modules/@s/b" → "node_modules/a"; "" at the top.
func parentPackage(p string) string {
	i := strings.LastIndex(p, "/node_modules/")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func licenseOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Type
	}
	return ""
}

func stringMap(raw json.RawMessage) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil // old packages wrote engines as a list; npm ignores it
	}
	out := map[string]string{}
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		}
	}
	return out
}

func stringList(raw json.RawMessage) []string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	return nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return fmt.Errorf("expected %q", rune(d))
	}
	return nil
}

// checkNesting refuses JSON nested deeper than MaxNesting, before a
// decoder recurses into it; it returns the offset of the problem.
func checkNesting(data []byte) (int64, error) {
	depth := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			depth++
			if depth > MaxNesting {
				return int64(i), fmt.Errorf("JSON nested more than %d deep", MaxNesting)
			}
		case ']', '}':
			depth--
		}
	}
	return 0, nil
}

// lineIdx maps byte offsets to line numbers.
type lineIdx []int

func lineIndex(data []byte) lineIdx {
	idx := lineIdx{0}
	for i, c := range data {
		if c == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (l lineIdx) at(off int64) int {
	return sort.Search(len(l), func(i int) bool { return int64(l[i]) > off })
}
