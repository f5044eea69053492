package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// source is a place wheels come from.
type source interface {
	// String is the source's name for messages, credentials removed.
	String() string
	// list returns the distribution files the source has for a project
	// (a normalized name): (nil, nil) when it has none.
	list(ctx context.Context, project string) ([]link, error)
	// open streams one file of a listing, with its size (-1 unknown).
	open(ctx context.Context, l link) (io.ReadCloser, int64, error)
}

// link is one distribution file a source offers.
type link struct {
	file    string     // file name
	proj    string     // normalized project name from the file name
	wheel   wheel.Name // parsed, for wheels
	isWheel bool
	version string // the version in the file name (wheels and sdists)
	loc     string // where: a URL, an S3 key or a path, per source
	sha256  string // declared by the source; "" unknown
	size    int64  // declared by the source; 0 unknown
	// requiresPython is the index's data-requires-python ("" none).
	requiresPython string
}

// where describes the file's location for messages and wheelhouse.json.
func (l link) where() string { return Redact(l.loc) }

// project is the normalized project name of the link's file.
func (l link) project() string { return l.proj }

// distExts are the endings of distribution files: wheels, then sdists.
var distExts = []string{".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar"}

// newLink classifies a file name. ok is false for files that are neither
// wheels nor sdists, and for names that are no plain file name
// (wheel.CheckFileName).
func newLink(file, loc string) (link, bool) {
	l := link{file: file, loc: loc}
	if strings.HasSuffix(file, ".whl") {
		n, err := wheel.ParseName(file)
		if err != nil {
			return l, false
		}
		l.wheel, l.isWheel, l.version, l.proj = n, true, n.Version, n.Key()
		return l, true
	}
	if wheel.CheckFileName(file) != nil {
		return l, false
	}
	for _, ext := range distExts[1:] {
		if strings.HasSuffix(strings.ToLower(file), ext) {
			// name-version, where old sdists may have "-" in the name.
			stem := file[:len(file)-len(ext)]
			i := strings.LastIndex(stem, "-")
			if i <= 0 {
				return l, false
			}
			l.version, l.proj = stem[i+1:], pyname.Normalize(stem[:i])
			return l, true
		}
	}
	return l, false
}

// sameVersion compares two PEP 440 versions (as text when unparsable).
func sameVersion(a, b string) bool {
	if a == b {
		return true
	}
	va, err1 := pep440.Parse(a)
	vb, err2 := pep440.Parse(b)
	return err1 == nil && err2 == nil && pep440.Compare(va, vb) == 0
}

// parseSource makes the source a --source value names: an http(s) URL of
// a PEP 503/691 simple index, s3://bucket/prefix, or a folder (a path or
// a file:// URL). findLinks makes an http(s) URL a single page of links
// (pip's --find-links) instead of an index. base resolves relative folder
// paths.
func (f *fetcher) parseSource(spec string, explicit, findLinks bool, base string) (source, error) {
	switch {
	case strings.HasPrefix(spec, "s3://"):
		return f.newS3Source(spec)
	case strings.HasPrefix(spec, "http://"), strings.HasPrefix(spec, "https://"):
		u, err := url.Parse(spec)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("source %s: not a valid URL", Redact(spec))
		}
		u = f.creds.addSource(u, explicit)
		if findLinks {
			return &flatSource{f: f, page: u}, nil
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		return &indexSource{f: f, base: u}, nil
	case strings.HasPrefix(spec, "file://"):
		u, err := url.Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("source %s: not a valid file URL", spec)
		}
		return newDirSource(u.Path)
	case strings.Contains(spec, "://"):
		return nil, fmt.Errorf("source %s: pipbake fetches from http(s) indexes, s3:// buckets and folders", Redact(spec))
	}
	dir := spec
	if base != "" && !filepath.IsAbs(dir) {
		// As pip does for -f in a requirements file: relative to the file
		// when that exists.
		if rel := filepath.Join(base, dir); exists(rel) {
			dir = rel
		}
	}
	return newDirSource(dir)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// dirSource is a local folder of wheels, searched recursively (so both a
// flat folder and a PEP 503 tree of project folders work).
type dirSource struct {
	dir   string
	files map[string][]link // by project
}

func newDirSource(dir string) (*dirSource, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("source %s: not a folder", dir)
	}
	s := &dirSource{dir: abs, files: map[string][]link{}}
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != abs && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if l, ok := newLink(d.Name(), p); ok {
			s.files[l.project()] = append(s.files[l.project()], l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", dir, err)
	}
	return s, nil
}

func (s *dirSource) String() string { return s.dir }

func (s *dirSource) list(_ context.Context, project string) ([]link, error) {
	return s.files[project], nil
}

func (s *dirSource) open(_ context.Context, l link) (io.ReadCloser, int64, error) {
	f, err := os.Open(l.loc)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// pinSource is a pylock.toml package's own wheels: their url (fetched
// over HTTP) or path (relative to the lock file).
type pinSource struct {
	f     *fetcher
	lock  string // the lock file, for relative paths and messages
	links []link
}

func (f *fetcher) newPinSource(lockPath string, files []lock.File) *pinSource {
	s := &pinSource{f: f, lock: lockPath}
	for _, w := range files {
		loc := w.URL
		if loc == "" {
			loc = w.Path
			if !filepath.IsAbs(loc) {
				loc = filepath.Join(filepath.Dir(lockPath), loc)
			}
		}
		l, ok := newLink(w.Name, loc)
		if !ok {
			continue // the lock parser refused such names already
		}
		l.size = w.Size
		for _, h := range w.Hashes {
			if h.Algorithm == "sha256" {
				l.sha256 = h.Hex
			}
		}
		s.links = append(s.links, l)
	}
	return s
}

func (s *pinSource) String() string { return "the wheel URLs of " + s.lock }

func (s *pinSource) list(context.Context, string) ([]link, error) { return s.links, nil }

func (s *pinSource) open(ctx context.Context, l link) (io.ReadCloser, int64, error) {
	if strings.HasPrefix(l.loc, "http://") || strings.HasPrefix(l.loc, "https://") {
		u, err := url.Parse(l.loc)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", Redact(l.loc), err)
		}
		return s.f.httpOpen(ctx, u)
	}
	if strings.Contains(l.loc, "://") {
		return nil, 0, errors.New("pipbake fetches pylock wheels from http(s) URLs and paths only")
	}
	return (&dirSource{}).open(ctx, l)
}
