package fetch

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
)

// DefaultNPMRegistry is where registry packages come from when the lock
// does not say (a lock written with omit-lockfile-registry-resolved) and
// no --source or .npmrc "registry" is given.
const DefaultNPMRegistry = "https://registry.npmjs.org/"

// NPMOptions describe a fetch of the tarballs npm locks pin.
type NPMOptions struct {
	// Locks are the parsed package-lock.json or npm-shrinkwrap.json files.
	Locks []*npm.Lock
	// Out is the folder written (TarballFile names and npm.IndexName),
	// which `pipbake install` reads as it is. It is created, or replaced
	// whole when every tarball was fetched.
	Out string
	// Sources are tried in order for each registry package: registry base
	// URLs (the part of a lock's resolved URL before the package name is
	// replaced by it, as npm's registry setting does), folders (in the
	// registry's layout or of TarballFile names) and s3://bucket/prefix
	// (the registry's layout under the prefix). Tarballs at other URLs
	// and on disk (file:) are also looked for in the folders, then fetched
	// from where the lock says. Empty means each lock's own resolved URLs.
	Sources []string
	// Runtime is the target: its Platform, Arch and Libc choose the
	// optional platform packages (its Version may be empty).
	Runtime *npm.Runtime
	// IncludeDev fetches the dev dependencies too.
	IncludeDev bool
	// NPMRC are .npmrc files to read registry credentials from (later
	// ones win); nil means the user's ~/.npmrc and each lock's folder's.
	NPMRC []string
	// Cache is the cache folder; empty means DefaultCacheDir().
	Cache string
	// Jobs is the number of tarballs fetched at once; 0 means DefaultJobs.
	Jobs int
	// Progress and Log are as in Options.
	Progress, Log io.Writer
	// S3Endpoint and HTTPClient are as in Options.
	S3Endpoint string
	HTTPClient *http.Client
}

// NPMResult describes a finished npm fetch.
type NPMResult struct {
	Out      string       `json:"out"`
	Tarballs []NPMTarball `json:"tarballs"`
	// Skipped are the packages left out for the target (lock:line path: why).
	Skipped         []string `json:"skipped,omitempty"`
	Downloaded      int      `json:"downloaded"`
	FromCache       int      `json:"from_cache"`
	DownloadedBytes int64    `json:"downloaded_bytes"`
	Seconds         float64  `json:"seconds"`
}

// NPMTarball is one tarball of the result (and of npm.IndexName).
type NPMTarball struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	File      string `json:"file"`
	Integrity string `json:"integrity"`
	Size      int64  `json:"size"`
	Source    string `json:"source"` // redacted
	// Pins are the lock file:line and path of every entry it serves.
	Pins      []string `json:"pins,omitempty"`
	FromCache bool     `json:"from_cache,omitempty"`
}

// NPMIndex is the index written beside the tarballs.
type NPMIndex struct {
	Schema   int          `json:"schema"`
	Tarballs []NPMTarball `json:"tarballs"`
}

// npmJob is one distinct name@version to fetch.
type npmJob struct {
	name, version string
	integrity     npm.Integrity
	kind          npm.Kind
	tail          string   // registry path
	own           string   // the lock's own location: a URL or a path
	pins          []string // lock:line path
	// result
	path, from string
	size       int64
	fromCache  bool
	problem    *Problem
}

func (j *npmJob) label() string { return j.name + "@" + j.version }

// npmSource is a place npm tarballs come from.
type npmSource interface {
	String() string
	// open streams the job's tarball; a *statusError 404 (NotFound) when
	// the source has none.
	open(ctx context.Context, j *npmJob) (io.ReadCloser, int64, string, error)
}

// FetchNPM gathers the tarballs npm locks pin for the target into
// opts.Out, each checked against the lock's integrity (the strongest
// hash it has: sha512, or sha1 where that is all), through the
// content-addressed cache, with the retries, redaction and credentials
// of Fetch plus .npmrc registry tokens. Out changes only when every
// tarball was fetched; a failure is an *Error listing each one.
func FetchNPM(ctx context.Context, opts NPMOptions) (*NPMResult, error) {
	f := &fetcher{opts: Options{Out: opts.Out, Cache: opts.Cache, Jobs: opts.Jobs, Progress: opts.Progress, Log: opts.Log,
		S3Endpoint: opts.S3Endpoint, HTTPClient: opts.HTTPClient}, red: &redactor{}, userAgent: "pipbake/" + version.String()}
	res, err := f.fetchNPM(ctx, opts)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &redactedError{msg: f.red.redact(err.Error()), err: err}
	}
	return res, nil
}

func (f *fetcher) fetchNPM(ctx context.Context, opts NPMOptions) (*NPMResult, error) {
	start := time.Now()
	switch {
	case len(opts.Locks) == 0:
		return nil, errors.New("fetch: no lock files")
	case opts.Runtime == nil || opts.Runtime.Platform == "" || opts.Runtime.Arch == "":
		return nil, errors.New("fetch: no target platform (probe the target's node or give its os and cpu)")
	}
	out, err := checkOutIndex(opts.Out, npm.IndexName)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = DefaultJobs
	}
	f.creds = newCredentials(f.red)
	rcFiles := opts.NPMRC
	if rcFiles == nil {
		var paths []string
		for _, lk := range opts.Locks {
			paths = append(paths, lk.Path)
		}
		rcFiles = npmrcFiles(paths)
	}
	if f.creds.npm, err = readNPMRC(f.red, rcFiles...); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	f.client = opts.HTTPClient
	if f.client == nil {
		f.client = defaultClient(jobs)
	}
	f.client = f.creds.withRedirectPolicy(f.client)
	cacheDir := opts.Cache
	if cacheDir == "" {
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	if f.cache, err = openCache(cacheDir); err != nil {
		return nil, err
	}
	var sources []npmSource
	for _, s := range opts.Sources {
		src, err := f.parseNPMSource(s)
		if err != nil {
			return nil, fmt.Errorf("fetch: %w", err)
		}
		sources = append(sources, src)
	}
	todo, skipped, err := planNPM(opts)
	if err != nil {
		return nil, err
	}
	registry := DefaultNPMRegistry
	if f.creds.npm.Registry != "" {
		registry = f.creds.npm.Registry
	}

	f.prog = newProgress(opts.Progress, len(todo), "tarballs")
	var g errgroup.Group // as for wheels: a job's failure is its problem
	g.SetLimit(max(1, jobs))
	for _, j := range todo {
		g.Go(func() error {
			f.runNPM(ctx, j, sources, registry)
			f.prog.pinDone()
			return nil
		})
	}
	_ = g.Wait()
	f.prog.finish()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fetch: %w; %s was left unchanged", err, out)
	}
	var problems []Problem
	for _, j := range todo {
		if j.problem != nil {
			problems = append(problems, *j.problem)
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Out: out, Problems: problems}
	}
	return f.writeNPM(out, todo, skipped, start)
}

// planNPM turns the locks' packages for the target into jobs, one per
// name and version; two locks that pin one name and version with
// different integrity are refused.
func planNPM(opts NPMOptions) ([]*npmJob, []string, error) {
	byKey := map[string]*npmJob{}
	var todo []*npmJob
	var skipped []string
	var errs []error
	for _, lk := range opts.Locks {
		sel, err := lk.Select(opts.Runtime, npm.SelectOptions{IncludeDev: opts.IncludeDev})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range sel.Skipped {
			skipped = append(skipped, fmt.Sprintf("%s:%d %s: %s", lk.Path, s.Package.Line, s.Package.Path, s.Reason))
		}
		for _, p := range sel.Packages {
			k := p.Kind()
			if k != npm.Registry && k != npm.Remote && k != npm.LocalTarball {
				continue
			}
			pin := fmt.Sprintf("%s:%d %s", lk.Path, p.Line, p.Path)
			key := p.Name + "@" + p.Version
			if j := byKey[key]; j != nil {
				if j.integrity.String() != p.Integrity.String() && !sameDigest(j.integrity, p.Integrity) {
					errs = append(errs, fmt.Errorf("%s pins %s with integrity %s, but %s pins it with %s: one folder cannot hold both", pin, key, p.Integrity, j.pins[0], j.integrity))
					continue
				}
				j.pins = append(j.pins, pin)
				continue
			}
			j := &npmJob{name: p.Name, version: p.Version, integrity: p.Integrity, kind: k, tail: p.RegistryTail(), pins: []string{pin}}
			switch k {
			case npm.Registry:
				j.own = p.Resolved
			case npm.Remote:
				j.own = p.Resolved
			case npm.LocalTarball:
				rel := strings.TrimPrefix(strings.TrimPrefix(p.Resolved, "file:"), "//")
				if !filepath.IsAbs(rel) {
					rel = filepath.Join(filepath.Dir(lk.Path), filepath.FromSlash(rel))
				}
				j.own = rel
			}
			byKey[key] = j
			todo = append(todo, j)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	slices.SortFunc(todo, func(a, b *npmJob) int { return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.version, b.version)) })
	return todo, skipped, nil
}

func sameDigest(a, b npm.Integrity) bool {
	if a.Algorithm != b.Algorithm {
		return false
	}
	for _, d := range a.Digests {
		if b.Matches(d) {
			return true
		}
	}
	return false
}

// runNPM fetches one tarball: from the cache, else from the sources in
// order, else from where the lock says.
func (f *fetcher) runNPM(ctx context.Context, j *npmJob, sources []npmSource, registry string) {
	if p, ok := f.cache.getIntegrity(j.integrity); ok {
		j.path, j.from, j.fromCache, j.size = p, "cache", true, fileSize(p)
		if e, ok := f.cache.entryOfIntegrity(j.integrity); ok && e.Source != "" {
			j.from = e.Source
		}
		return
	}
	var attempts []Attempt
	try := func(src npmSource) bool {
		if ctx.Err() != nil {
			return true
		}
		if v, down := f.down.Load(src.String()); down {
			err := v.(error)
			attempts = append(attempts, Attempt{Source: f.red.redact(src.String()), Kind: kindOf(err), Detail: f.red.redact(err.Error())})
			return false
		}
		err := f.downloadNPM(ctx, j, src)
		if err == nil {
			return true
		}
		if k := kindOf(err); k == Unreachable || k == AccessDenied {
			f.down.Store(src.String(), err)
		}
		attempts = append(attempts, Attempt{Source: f.red.redact(src.String()), Kind: kindOf(err), Detail: f.red.redact(err.Error())})
		return false
	}
	var list []npmSource
	if j.kind == npm.Registry && len(sources) > 0 {
		list = sources
	} else {
		for _, s := range sources {
			if _, ok := s.(*npmDirSource); ok {
				list = append(list, s)
			}
		}
		switch {
		case j.kind == npm.LocalTarball:
			list = append(list, &npmFileSource{path: j.own})
		case j.own != "":
			if u, err := url.Parse(j.own); err == nil {
				list = append(list, &npmURLSource{f: f, url: u})
			}
		default:
			if base, err := url.Parse(registry); err == nil {
				list = append(list, &npmRegistrySource{f: f, base: base})
			}
		}
	}
	for _, src := range list {
		if try(src) {
			break
		}
	}
	if ctx.Err() != nil {
		return
	}
	if j.path == "" {
		j.problem = &Problem{Pin: j.label(), Where: j.pins, Kind: worst(attempts), Attempts: attempts}
		return
	}
	for _, a := range attempts {
		if a.Kind != NotFound {
			f.logf("pipbake fetch: warning: %s: %s: %s; took %s instead", j.label(), a.Source, a.Detail, j.from)
		}
	}
}

// downloadNPM streams a tarball from src into the cache, checking its
// integrity, with retries.
func (f *fetcher) downloadNPM(ctx context.Context, j *npmJob, src npmSource) error {
	var where string
	err := withRetry(ctx, func() error {
		rc, size, loc, err := src.open(ctx, j)
		if err != nil {
			return err
		}
		defer rc.Close()
		where = f.red.redact(loc)
		p, n, err := f.cache.putIntegrity(f.prog.counter(rc), npm.TarballFile(j.name, j.version), size, j.integrity, where)
		if err != nil {
			return err
		}
		j.path, j.size, j.from = p, n, where
		return nil
	}, f.retryNote(src.String()+" "+j.label()))
	var me *mismatchError
	if errors.As(err, &me) {
		me.loc, me.locks = where, strings.Join(j.pins, ", ")
		return me
	}
	return err
}

// writeNPM assembles the output folder and puts it in place of out.
func (f *fetcher) writeNPM(out string, todo []*npmJob, skipped []string, start time.Time) (*NPMResult, error) {
	st, err := newStaging(out)
	if err != nil {
		return nil, err
	}
	defer st.abort()
	res := &NPMResult{Out: out, Skipped: skipped}
	idx := NPMIndex{Schema: 1}
	for _, j := range todo {
		file := npm.TarballFile(j.name, j.version)
		if err := st.add(j.path, file); err != nil {
			return nil, fmt.Errorf("fetch: place %s: %w", file, err)
		}
		t := NPMTarball{Name: j.name, Version: j.version, File: file, Integrity: j.integrity.String(), Size: j.size, Source: f.red.redact(j.from)}
		idx.Tarballs = append(idx.Tarballs, t)
		t.Pins, t.FromCache = j.pins, j.fromCache
		res.Tarballs = append(res.Tarballs, t)
		if j.fromCache {
			res.FromCache++
		} else {
			res.Downloaded++
			res.DownloadedBytes += j.size
		}
	}
	if err := st.commitIndex(npm.IndexName, idx); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// parseNPMSource makes the source a --source value names for npm: an
// http(s) registry base, s3://bucket/prefix, or a folder.
func (f *fetcher) parseNPMSource(spec string) (npmSource, error) {
	switch {
	case strings.HasPrefix(spec, "s3://"):
		s, err := f.newS3Source(spec)
		if err != nil {
			return nil, err
		}
		return &npmS3Source{s: s}, nil
	case strings.HasPrefix(spec, "http://"), strings.HasPrefix(spec, "https://"):
		u, err := url.Parse(spec)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("source %s: not a valid URL", Redact(spec))
		}
		u = f.creds.addSource(u, true)
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		return &npmRegistrySource{f: f, base: u}, nil
	case strings.HasPrefix(spec, "file://"):
		u, err := url.Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("source %s: not a valid file URL", spec)
		}
		return newNPMDirSource(u.Path)
	case strings.Contains(spec, "://"):
		return nil, fmt.Errorf("source %s: pipbake fetches npm tarballs from http(s) registries, s3:// buckets and folders", Redact(spec))
	}
	return newNPMDirSource(spec)
}

// npmRegistrySource is a registry base URL: a package's tarball is at
// base + its registry path.
type npmRegistrySource struct {
	f    *fetcher
	base *url.URL
}

func (s *npmRegistrySource) String() string { return Redact(s.base.String()) }

func (s *npmRegistrySource) open(ctx context.Context, j *npmJob) (io.ReadCloser, int64, string, error) {
	ref, err := url.Parse(escapeRegistryPath(j.tail))
	if err != nil {
		return nil, 0, "", err
	}
	u := s.base.ResolveReference(ref)
	rc, size, err := s.f.httpOpen(ctx, u)
	return rc, size, u.String(), err
}

// escapeRegistryPath escapes each segment of a registry path ("@" stays:
// registries serve @scope/name/-/name-1.0.0.tgz as it is).
func escapeRegistryPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), "%40", "@")
	}
	return strings.Join(segs, "/")
}

// npmURLSource is a tarball URL from the lock.
type npmURLSource struct {
	f   *fetcher
	url *url.URL
}

func (s *npmURLSource) String() string { return Redact(s.url.String()) }

func (s *npmURLSource) open(ctx context.Context, _ *npmJob) (io.ReadCloser, int64, string, error) {
	rc, size, err := s.f.httpOpen(ctx, s.url)
	return rc, size, s.url.String(), err
}

// npmFileSource is a tarball on disk a lock names (file:).
type npmFileSource struct{ path string }

func (s *npmFileSource) String() string { return s.path }

func (s *npmFileSource) open(context.Context, *npmJob) (io.ReadCloser, int64, string, error) {
	return openLocal(s.path)
}

func openLocal(p string) (io.ReadCloser, int64, string, error) {
	fh, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, "", &statusError{url: p, code: 404, status: "no such file", retryAfter: -1}
	}
	if err != nil {
		return nil, 0, "", err
	}
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		fh.Close()
		return nil, 0, "", &statusError{url: p, code: 404, status: "not a regular file", retryAfter: -1}
	}
	return fh, fi.Size(), p, nil
}

// npmDirSource is a folder of tarballs: in a registry's layout
// (<name>/-/<base>-<version>.tgz) or named as pipbake fetch names them.
type npmDirSource struct{ dir string }

func newNPMDirSource(dir string) (*npmDirSource, error) {
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
	return &npmDirSource{dir: abs}, nil
}

func (s *npmDirSource) String() string { return s.dir }

func (s *npmDirSource) open(_ context.Context, j *npmJob) (io.ReadCloser, int64, string, error) {
	// Both names come from checked names and versions: no ".." or
	// leading "/", so they stay inside the folder.
	for _, rel := range []string{npm.TarballFile(j.name, j.version), j.tail} {
		rc, size, loc, err := openLocal(filepath.Join(s.dir, filepath.FromSlash(rel)))
		if err == nil {
			return rc, size, loc, nil
		}
		if kindOf(err) != NotFound {
			return nil, 0, "", err
		}
	}
	return nil, 0, "", &statusError{url: s.dir, code: 404, status: "no " + npm.TarballFile(j.name, j.version) + " or " + j.tail, retryAfter: -1}
}

// npmS3Source is a bucket prefix in a registry's layout.
type npmS3Source struct {
	s *s3Source

	once   sync.Once
	client *s3.Client
	err    error
}

func (n *npmS3Source) String() string { return n.s.String() }

func (n *npmS3Source) open(ctx context.Context, j *npmJob) (io.ReadCloser, int64, string, error) {
	n.once.Do(func() { n.client, n.err = n.s.f.s3Client(ctx, "") })
	if n.err != nil {
		return nil, 0, "", n.err
	}
	key := n.s.prefix + j.tail
	loc := "s3://" + n.s.bucket + "/" + key
	rctx, cancel := context.WithCancelCause(ctx)
	out, err := n.client.GetObject(rctx, &s3.GetObjectInput{Bucket: aws.String(n.s.bucket), Key: aws.String(key)})
	if err != nil {
		cancel(context.Canceled)
		err = n.s.classify(n.s.asStatus(err, loc), loc)
		var st *statusError
		if errors.As(err, &st) && (st.code == 404 || st.detail == "NoSuchKey" || strings.HasPrefix(st.detail, "NoSuchKey")) {
			st.code = 404
		}
		return nil, 0, "", err
	}
	size := int64(-1)
	if out.ContentLength != nil {
		size = *out.ContentLength
	}
	return newStallReader(rctx, cancel, out.Body), size, loc, nil
}

// Cache of npm tarballs, beside the wheels, addressed by the lock's
// integrity:
//
//	<cache>/<algorithm>/ab/abcdef…        a tarball, read-only, named by its digest in hex
//	<cache>/<algorithm>/ab/abcdef….json   {"file", "size", "source"}

func (c *cache) integrityPath(in npm.Integrity, digest []byte) string {
	h := hex.EncodeToString(digest)
	return filepath.Join(c.dir, in.Algorithm, h[:2], h)
}

// getIntegrity returns a cached tarball with one of the integrity's
// digests, checked once per fetch; a damaged one is removed.
func (c *cache) getIntegrity(in npm.Integrity) (string, bool) {
	for _, d := range in.Digests {
		p := c.integrityPath(in, d)
		key := in.Algorithm + "-" + hex.EncodeToString(d)
		c.mu.Lock()
		done := c.verified[key]
		c.mu.Unlock()
		if done {
			return p, true
		}
		fh, err := os.Open(p)
		if err != nil {
			continue
		}
		h := in.New()
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			continue
		}
		if !in.Matches(h.Sum(nil)) {
			os.Remove(p)
			continue
		}
		c.mu.Lock()
		c.verified[key] = true
		c.mu.Unlock()
		return p, true
	}
	return "", false
}

func (c *cache) entryOfIntegrity(in npm.Integrity) (entry, bool) {
	var e entry
	for _, d := range in.Digests {
		data, err := os.ReadFile(c.integrityPath(in, d) + ".json")
		if err == nil && json.Unmarshal(data, &e) == nil {
			return e, true
		}
	}
	return e, false
}

// putIntegrity streams r into the cache and keeps it only if it matches
// the integrity (and has size bytes, when size ≥ 0).
func (c *cache) putIntegrity(r io.Reader, file string, size int64, in npm.Integrity, source string) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "dl-*")
	if err != nil {
		return "", 0, fmt.Errorf("cache: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := in.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, npm.MaxTarballBytes+1))
	if err != nil {
		return "", n, err
	}
	if n > npm.MaxTarballBytes {
		return "", n, fmt.Errorf("%s is larger than %d MiB", file, npm.MaxTarballBytes>>20)
	}
	if size >= 0 && n != size {
		return "", n, fmt.Errorf("%w: got %d of %d bytes", io.ErrUnexpectedEOF, n, size)
	}
	sum := h.Sum(nil)
	if !in.Matches(sum) {
		got := npm.Integrity{Algorithm: in.Algorithm, Digests: [][]byte{sum}}
		return "", n, &mismatchError{file: file, got: got.String(), what: "integrity", want: []string{in.String()}}
	}
	if err := tmp.Sync(); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	if err := tmp.Chmod(0o444); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	dst := c.integrityPath(in, sum)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	if err := writeJSONAtomic(dst+".json", entry{File: file, Size: n, Source: source}, false); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", n, fmt.Errorf("cache: %w", err)
	}
	keep = true
	c.mu.Lock()
	c.verified[in.Algorithm+"-"+hex.EncodeToString(sum)] = true
	c.mu.Unlock()
	return dst, n, nil
}
