// Package fetch gathers the wheels that lock files pin, for one target
// interpreter, into a wheelhouse folder that `pipbake install --wheelhouse`
// takes as it is: every file verified against the lock's sha256, chosen
// for the target's tags the way install chooses, and listed in
// wheelhouse.json.
//
// Wheels come from PEP 503 (HTML) and PEP 691 (JSON) simple indexes,
// pip --find-links pages, S3 buckets (aws-sdk-go-v2, default credential
// chain, S3-compatible endpoints), local folders, and the wheel URLs and
// paths of pylock.toml files. A content-addressed cache keyed by sha256
// makes a repeated fetch read no network. The output folder changes only
// when every pin succeeded.
//
// A provisioner fetches for several locks at once, for a target described
// by flags:
//
//	d := target.Description{PythonVersion: "3.11", Platforms: []string{"manylinux_2_36_x86_64"}}
//	tags, _ := d.Tags()
//	env, _ := d.Markers()
//	res, err := fetch.Fetch(ctx, fetch.Options{Locks: []*lock.Lock{api, worker}, Out: "wheelhouse", Tags: tags, Env: env})
//
// or for a probed interpreter (target.Probe, then Target.Tags and
// Target.Markers). A failure is an *Error listing every pin that failed
// and why; errors.Is(err, fetch.SdistOnly) and the other Kinds test for
// one kind.
package fetch

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/sync/errgroup"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/pep440"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/tags"
	"github.com/pipbake/packer-plugin-pipbake/internal/version"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// DefaultIndex is the index of a requirements lock that names none.
const DefaultIndex = "https://pypi.org/simple/"

// DefaultJobs is the number of parallel downloads when Options.Jobs is 0.
const DefaultJobs = 8

// Options describe one fetch.
type Options struct {
	// Locks are the parsed lock files. The pins of every lock that hold
	// for Env go into the one wheelhouse; a package pinned by several
	// locks at the same version is fetched once.
	Locks []*lock.Lock
	// Out is the wheelhouse folder. It is created, or replaced whole when
	// every pin succeeded; it must be new, empty or an earlier fetch's.
	Out string
	// Sources are tried in order for each pin: http(s) URLs of simple
	// indexes, s3://bucket/prefix, and folders. Empty means each lock's
	// own: a requirements file's --index-url (default PyPI),
	// --extra-index-url and --find-links, or a pylock.toml's wheel URLs
	// and paths.
	Sources []string
	// Tags are the target's supported tags, best first, and Env its
	// marker environment: from target.Probe (Target.Tags, .Markers) or
	// from a target.Description.
	Tags []tags.Tag
	Env  marker.Env
	// Cache is the cache folder; empty means DefaultCacheDir().
	Cache string
	// Jobs is the number of pins fetched at once; 0 means DefaultJobs.
	Jobs int
	// Progress, when set, gets the progress: a bar redrawn in place on a
	// terminal, a plain line every few seconds elsewhere
	// (internal/progress.ModeOf decides).
	Progress io.Writer
	// Log, when set, gets warnings and retries, one line each.
	Log io.Writer
	// S3Endpoint is the endpoint of an S3-compatible store; empty means
	// the SDK's (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS).
	S3Endpoint string
	// HTTPClient is used for index and file requests; nil means a client
	// with the environment's proxy settings and sensible timeouts.
	HTTPClient *http.Client
}

// Result describes a finished fetch.
type Result struct {
	Out    string  `json:"out"`
	Wheels []Wheel `json:"wheels"`
	// Downloaded counts the wheels downloaded, FromCache those taken from
	// the cache; DownloadedBytes is what the downloads brought.
	Downloaded      int     `json:"downloaded"`
	FromCache       int     `json:"from_cache"`
	DownloadedBytes int64   `json:"downloaded_bytes"`
	Seconds         float64 `json:"seconds"`
}

// Wheel is one wheel of the result.
type Wheel struct {
	wheelhouse.Entry
	// Pins are the lock file:line of every pin it satisfies.
	Pins      []string `json:"pins"`
	FromCache bool     `json:"from_cache"`
}

// fetcher is the state of one Fetch.
type fetcher struct {
	opts      Options
	red       *redactor
	creds     *credentials
	client    *http.Client
	cache     *cache
	rank      tags.Ranking
	userAgent string
	prog      *progress

	logMu sync.Mutex

	awsOnce sync.Once
	awsCfg  aws.Config
	awsErr  error

	down sync.Map // source → error: sources that cannot be reached or refuse us
}

// pinRef is one lock's pin of a job.
type pinRef struct {
	lock string
	pin  lock.Pin
}

func (r pinRef) String() string { return fmt.Sprintf("%s:%d", r.lock, r.pin.Line) }

// job is one distinct name==version to fetch.
type job struct {
	name, version string
	key           string // normalized name
	pins          []pinRef
	allowed       []string        // sha256s every pin allows
	files         map[string]bool // nil: any file; else the wheel files every pylock pin lists
	sources       []source
	memo          string // key of the remembered choice

	// result
	file, sum, path, from string
	size                  int64
	fromCache             bool
	problem               *Problem
}

func (j *job) label() string { return j.name + "==" + j.version }

// fits says whether a file name read back from the cache is a wheel of
// the job's project and version that the locks allow: a choice record
// is data like any other, and an edited or damaged one is not used.
func (j *job) fits(file string) bool {
	n, err := wheel.ParseName(file)
	return err == nil && n.Matches(j.name, j.version) && (j.files == nil || j.files[file])
}

// Fetch gathers the wheels of opts.Locks for the target into opts.Out.
// On any failure it returns an error and leaves Out as it was; when pins
// fail, the error is an *Error listing every one.
func Fetch(ctx context.Context, opts Options) (*Result, error) {
	f := &fetcher{opts: opts, red: &redactor{}, userAgent: "pipbake/" + version.String()}
	res, err := f.fetch(ctx)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			return nil, err // redacted as it was built
		}
		return nil, &redactedError{msg: f.red.redact(err.Error()), err: err}
	}
	return res, nil
}

// redactedError shows an error's text with credentials removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func (f *fetcher) fetch(ctx context.Context) (*Result, error) {
	start := time.Now()
	o := &f.opts
	switch {
	case len(o.Locks) == 0:
		return nil, errors.New("fetch: no lock files")
	case len(o.Tags) == 0:
		return nil, errors.New("fetch: no target tags (probe the target interpreter or describe it)")
	case o.Env == nil:
		return nil, errors.New("fetch: no target marker environment")
	}
	out, err := checkOut(o.Out)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = DefaultJobs
	}
	f.creds = newCredentials(f.red)
	f.client = o.HTTPClient
	if f.client == nil {
		f.client = defaultClient(jobs)
	}
	f.client = f.creds.withRedirectPolicy(f.client)
	f.rank = tags.Rank(o.Tags)
	cacheDir := o.Cache
	if cacheDir == "" {
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	if f.cache, err = openCache(cacheDir); err != nil {
		return nil, err
	}

	var global []source
	for _, s := range o.Sources {
		src, err := f.parseSource(s, true, false, "")
		if err != nil {
			return nil, fmt.Errorf("fetch: %w", err)
		}
		global = append(global, src)
	}
	todo, err := f.plan(global)
	if err != nil {
		return nil, err
	}

	f.prog = newProgress(o.Progress, len(todo), "wheels")
	var g errgroup.Group // a job's failure is its problem, not an error
	g.SetLimit(max(1, jobs))
	for _, j := range todo {
		g.Go(func() error {
			f.run(ctx, j)
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
	return f.write(out, todo, start)
}

// plan turns the locks' pins for the target into jobs, one per distinct
// name and version.
func (f *fetcher) plan(global []source) ([]*job, error) {
	var errs []error
	var todo []*job
	byName := map[string][]*job{}
	for _, lk := range f.opts.Locks {
		pins, err := lk.ForEnv(f.opts.Env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var defaults []source
		if len(global) == 0 && lk.Format == lock.Requirements {
			if defaults, err = f.lockSources(lk); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		for _, pin := range pins {
			key := pyname.Normalize(pin.Name)
			var j *job
			for _, cand := range byName[key] {
				if sameVersion(cand.version, pin.Version) {
					j = cand
				}
			}
			if j == nil {
				j = &job{name: pin.Name, version: pin.Version, key: key, allowed: pin.SHA256()}
				byName[key] = append(byName[key], j)
				todo = append(todo, j)
			} else {
				j.allowed = slices.DeleteFunc(j.allowed, func(h string) bool { return !containsFold(pin.SHA256(), h) })
			}
			j.pins = append(j.pins, pinRef{lock: lk.Path, pin: pin})
			for _, w := range pin.Wheels {
				if _, err := wheel.ParseName(w.Name); err != nil {
					errs = append(errs, fmt.Errorf("%s:%d: %s==%s: %w", lk.Path, pin.Line, pin.Name, pin.Version, err))
				}
			}
			if len(pin.Wheels) > 0 {
				names := map[string]bool{}
				for _, w := range pin.Wheels {
					if j.files == nil || j.files[w.Name] {
						names[w.Name] = true
					}
				}
				j.files = names
			}
			switch {
			case len(global) > 0:
				j.sources = global
			case lk.Format == lock.PyLock:
				j.sources = append(j.sources, f.newPinSource(lk.Path, pin.Wheels))
			default:
				for _, s := range defaults {
					if !slices.ContainsFunc(j.sources, func(t source) bool { return t.String() == s.String() }) {
						j.sources = append(j.sources, s)
					}
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var conflicts []Problem
	for _, j := range todo {
		if len(j.allowed) == 0 || j.files != nil && len(j.files) == 0 {
			var where []string
			for _, p := range j.pins {
				where = append(where, fmt.Sprintf("%s allows %s", p, strings.Join(p.pin.SHA256(), ", ")))
			}
			conflicts = append(conflicts, Problem{Pin: j.label(), Where: j.where(), Kind: Failed,
				Attempts: []Attempt{{Source: "the locks", Kind: Failed, Detail: "no file satisfies every lock: " + strings.Join(where, "; ")}}})
		}
		j.memo = f.memoKey(j)
	}
	if len(conflicts) > 0 {
		return nil, &Error{Out: f.opts.Out, Problems: conflicts}
	}
	slices.SortFunc(todo, func(a, b *job) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.version, b.version)) })
	return todo, nil
}

// lockSources are the sources a requirements lock names.
func (f *fetcher) lockSources(lk *lock.Lock) ([]source, error) {
	var specs []string
	if !lk.NoIndex {
		specs = append(specs, cmp.Or(lk.IndexURL, DefaultIndex))
		specs = append(specs, lk.ExtraIndexURLs...)
	}
	var out []source
	for _, s := range specs {
		src, err := f.parseSource(s, false, false, "")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", lk.Path, err)
		}
		out = append(out, src)
	}
	for _, s := range lk.FindLinks {
		src, err := f.parseSource(s, false, true, filepath.Dir(lk.Path))
		if err != nil {
			return nil, fmt.Errorf("%s: --find-links: %w", lk.Path, err)
		}
		out = append(out, src)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: --no-index and no --find-links: no place to fetch from (give --source)", lk.Path)
	}
	return out, nil
}

func (j *job) where() []string {
	var out []string
	for _, p := range j.pins {
		out = append(out, p.String())
	}
	return out
}

// memoKey identifies a resolution: the same pin, allowed files, target
// tags and sources always choose the same file.
func (f *fetcher) memoKey(j *job) string {
	h := sha256.New()
	fmt.Fprintf(h, "pipbake-fetch-choice/1\n%s\n%s\n", j.key, j.version)
	allowed := slices.Sorted(slices.Values(j.allowed))
	fmt.Fprintf(h, "%s\n", strings.Join(allowed, ","))
	var files []string
	for n := range j.files {
		files = append(files, n)
	}
	slices.Sort(files)
	fmt.Fprintf(h, "%s\n", strings.Join(files, ","))
	for _, t := range f.opts.Tags {
		fmt.Fprintf(h, "%s,", t)
	}
	// The Python's feature release, not its patch level: a hit is checked
	// against the target's own Requires-Python (run), so a choice made for
	// "--python-version 3.11" serves a probed 3.11.7 and the other way round.
	_, py, _ := f.targetPython()
	if parts := strings.SplitN(py, ".", 3); len(parts) == 3 {
		py = parts[0] + "." + parts[1]
	}
	fmt.Fprintf(h, "\npython %s", py)
	for _, s := range j.sources {
		fmt.Fprintf(h, "\n%s", s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// run fetches one job: a remembered choice that is in the cache, else the
// first source that has a fitting wheel the lock allows.
func (f *fetcher) run(ctx context.Context, j *job) {
	if ch, ok := f.cache.getChoice(j.memo); ok && containsFold(j.allowed, ch.SHA256) && j.fits(ch.File) {
		if p, ok, err := f.cache.get(ch.SHA256); err == nil && ok {
			if _, fits, err := f.pythonFits(j, p); err == nil && fits {
				j.file, j.sum, j.path, j.from, j.fromCache = ch.File, ch.SHA256, p, ch.Source, true
				j.size = fileSize(p)
				return
			}
		}
	}
	var attempts []Attempt
	fail := func(src source, kind Kind, detail string) {
		attempts = append(attempts, Attempt{Source: f.red.redact(src.String()), Kind: kind, Detail: f.red.redact(detail)})
	}
	for _, src := range j.sources {
		if ctx.Err() != nil {
			return
		}
		if v, down := f.down.Load(src); down {
			err := v.(error)
			fail(src, kindOf(err), err.Error())
			continue
		}
		links, err := src.list(ctx, j.key)
		if err != nil {
			if k := kindOf(err); k == Unreachable || k == AccessDenied {
				f.down.Store(src, err)
			}
			fail(src, kindOf(err), err.Error())
			continue
		}
		if f.take(ctx, j, src, links, fail) {
			break
		}
		if ctx.Err() != nil {
			return
		}
	}
	if j.path == "" {
		j.problem = &Problem{Pin: j.label(), Where: j.where(), Kind: worst(attempts), Attempts: attempts}
		return
	}
	if err := f.cache.putChoice(j.memo, choice{File: j.file, SHA256: j.sum, Source: j.from}); err != nil {
		f.logf("pipbake fetch: warning: %s: remember the choice in the cache: %v", j.label(), err)
	}
	for _, a := range attempts {
		if a.Kind != NotFound { // a project in one source and not another is normal
			f.logf("pipbake fetch: warning: %s: %s: %s; took %s instead", j.label(), a.Source, a.Detail, j.from)
		}
	}
}

// take gets the best wheel among a source's links for the job, from the
// cache or by downloading it, and checks the Requires-Python of its
// METADATA against the target: a wheel that excludes the target is set
// aside and the next best taken. It reports through fail why it took
// none.
func (f *fetcher) take(ctx context.Context, j *job, src source, links []link, fail func(source, Kind, string)) bool {
	links = slices.Clone(links)
	for {
		l, kind, why := f.choose(j, links)
		if why != "" {
			fail(src, kind, why)
			return false
		}
		if !f.fromCache(j, l) {
			if err := f.download(ctx, j, src, l); err != nil {
				if ctx.Err() == nil {
					fail(src, kindOf(err), err.Error())
				}
				return false
			}
		}
		rp, fits, err := f.pythonFits(j, j.path)
		if err != nil {
			fail(src, Failed, fmt.Sprintf("%s (%s) is not a readable wheel: %v", l.file, l.where(), err))
			j.clear()
			return false
		}
		if fits {
			return true
		}
		// choose leaves it out from now on, and says why.
		for i := range links {
			if links[i].file == l.file && links[i].loc == l.loc {
				links[i].requiresPython = rp
			}
		}
		j.clear()
	}
}

// clear forgets a file taken for the job.
func (j *job) clear() {
	j.file, j.sum, j.path, j.from, j.size, j.fromCache = "", "", "", "", 0, false
}

// targetPython is the target interpreter's version, from the marker
// environment; ok is false when it has none.
func (f *fetcher) targetPython() (v pep440.Version, text string, ok bool) {
	text = cmp.Or(f.opts.Env["python_full_version"], f.opts.Env["python_version"])
	if text == "" {
		return v, "", false
	}
	v, err := pep440.Parse(text)
	return v, text, err == nil
}

// excludes says whether a Requires-Python specifier leaves out the
// target's Python. An unreadable specifier excludes nothing (as pip
// treats it).
func (f *fetcher) excludes(requiresPython string) bool {
	v, _, ok := f.targetPython()
	if !ok || strings.TrimSpace(requiresPython) == "" {
		return false
	}
	spec, err := pep440.ParseSpecifier(requiresPython)
	return err == nil && !spec.Contains(v)
}

// pythonFits reads a wheel's Requires-Python from its METADATA and says
// whether the target's Python satisfies it.
func (f *fetcher) pythonFits(j *job, p string) (requiresPython string, fits bool, err error) {
	rp, err := wheelRequiresPython(p)
	if err != nil {
		return "", false, err
	}
	if _, perr := pep440.ParseSpecifier(rp); rp != "" && perr != nil {
		f.logf("pipbake fetch: warning: %s: Requires-Python %q in the wheel's METADATA is unreadable, so ignored: %v", j.label(), rp, perr)
	}
	return rp, !f.excludes(rp), nil
}

// fromCache takes the chosen file from the cache when it is there: by the
// sha256 its source declared, or by one the lock allows whose cached file
// has the chosen name.
func (f *fetcher) fromCache(j *job, l link) bool {
	sums := j.allowed
	if l.sha256 != "" {
		sums = []string{l.sha256}
	}
	for _, sum := range sums {
		if l.sha256 == "" {
			if e, ok := f.cache.entryOf(sum); !ok || e.File != l.file {
				continue
			}
		}
		if p, ok, err := f.cache.get(strings.ToLower(sum)); err == nil && ok {
			j.file, j.sum, j.path, j.from, j.fromCache = l.file, strings.ToLower(sum), p, f.red.redact(l.loc), true
			j.size = fileSize(p)
			return true
		}
	}
	return false
}

// choose picks, among a source's files for the project, the wheel to
// fetch; otherwise it says why there is none.
func (f *fetcher) choose(j *job, links []link) (link, Kind, string) {
	var wheels, sdists []link
	versions := map[string]bool{}
	var notListed []string
	for _, l := range links {
		if !sameVersion(l.version, j.version) {
			versions[l.version] = true
			continue
		}
		switch {
		case !l.isWheel:
			sdists = append(sdists, l)
		case j.files != nil && !j.files[l.file]:
			notListed = append(notListed, l.file)
		default:
			wheels = append(wheels, l)
		}
	}
	if len(wheels) == 0 {
		switch {
		case len(sdists) > 0:
			var files []string
			for _, l := range sdists {
				files = append(files, l.file+" at "+l.where())
			}
			return link{}, SdistOnly, "only a source distribution: " + strings.Join(files, ", ")
		case len(notListed) > 0:
			return link{}, NotFound, fmt.Sprintf("has %s, which the lock does not list", strings.Join(notListed, ", "))
		case len(links) == 0:
			return link{}, NotFound, fmt.Sprintf("no files for %s", j.name)
		}
		vs := slices.Sorted(func(yield func(string) bool) {
			for v := range versions {
				if !yield(v) {
					return
				}
			}
		})
		return link{}, NotFound, fmt.Sprintf("no files for version %s (versions there: %s)", j.version, strings.Join(vs, ", "))
	}

	// The interpreter's Python version must be one the file allows.
	var tooNew []string
	wheels = slices.DeleteFunc(wheels, func(l link) bool {
		if !f.excludes(l.requiresPython) {
			return false
		}
		tooNew = append(tooNew, fmt.Sprintf("%s has Requires-Python %s", l.file, l.requiresPython))
		return true
	})

	// As pip does: when the source declares hashes and some are allowed,
	// only those files are candidates.
	if slices.ContainsFunc(wheels, func(l link) bool { return l.sha256 != "" && containsFold(j.allowed, l.sha256) }) {
		wheels = slices.DeleteFunc(wheels, func(l link) bool { return l.sha256 != "" && !containsFold(j.allowed, l.sha256) })
	} else if len(wheels) > 0 && !slices.ContainsFunc(wheels, func(l link) bool { return l.sha256 == "" }) {
		var listed []string
		for _, l := range wheels {
			listed = append(listed, fmt.Sprintf("%s with sha256 %s", l.file, l.sha256))
		}
		return link{}, HashMismatch, fmt.Sprintf("lists %s; the lock (%s) allows %s",
			strings.Join(listed, ", "), strings.Join(j.where(), ", "), strings.Join(j.allowed, ", "))
	}

	names := make([]wheel.Name, len(wheels))
	for i, l := range wheels {
		names[i] = l.wheel
	}
	best, ok := wheelhouse.Best(names, f.rank)
	if !ok {
		var files []string
		for _, l := range wheels {
			files = append(files, l.file)
		}
		files = append(files, tooNew...)
		slices.Sort(files)
		msg := fmt.Sprintf("no wheel fits the target (tags %s); there are: %s", wheelhouse.DescribeTags(f.opts.Tags), strings.Join(files, ", "))
		if len(wheels) == 0 && len(tooNew) > 0 {
			_, py, _ := f.targetPython()
			slices.Sort(tooNew)
			msg = fmt.Sprintf("no wheel supports the target's Python %s: %s", py, strings.Join(tooNew, ", "))
		}
		return link{}, NoMatchingTags, msg
	}
	return wheels[best], "", ""
}

// download streams a file into the cache, verifying its sha256, with
// retries.
func (f *fetcher) download(ctx context.Context, j *job, src source, l link) error {
	var sum string
	var n int64
	err := withRetry(ctx, func() error {
		rc, size, err := src.open(ctx, l)
		if err != nil {
			return err
		}
		defer rc.Close()
		sum, n, err = f.cache.put(f.prog.counter(rc), l.file, size, j.allowed, f.red.redact(l.loc))
		return err
	}, f.retryNote(l.where()))
	var me *mismatchError
	if errors.As(err, &me) {
		me.loc, me.locks = l.where(), strings.Join(j.where(), ", ")
		return me
	}
	if err != nil {
		host := l.loc
		if u, perr := url.Parse(l.loc); perr == nil && u.Host != "" {
			host = u.Host
		}
		return fmt.Errorf("download %s: %w", l.where(), classifyNet(err, host))
	}
	p, _, _ := f.cache.get(sum)
	j.file, j.sum, j.path, j.from, j.size = l.file, sum, p, f.red.redact(l.loc), n
	return nil
}

// write assembles the wheelhouse and puts it in place of out.
func (f *fetcher) write(out string, todo []*job, start time.Time) (*Result, error) {
	st, err := newStaging(out)
	if err != nil {
		return nil, err
	}
	defer st.abort()
	res := &Result{Out: out}
	idx := wheelhouse.Index{Schema: 1}
	for _, j := range todo {
		if err := st.add(j.path, j.file); err != nil {
			return nil, fmt.Errorf("fetch: place %s: %w", j.file, err)
		}
		e := wheelhouse.Entry{Name: j.name, Version: j.version, File: j.file, SHA256: j.sum, Size: j.size, Source: f.red.redact(j.from)}
		idx.Wheels = append(idx.Wheels, e)
		res.Wheels = append(res.Wheels, Wheel{Entry: e, Pins: j.where(), FromCache: j.fromCache})
		if j.fromCache {
			res.FromCache++
		} else {
			res.Downloaded++
			res.DownloadedBytes += j.size
		}
	}
	if err := st.commit(idx); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func (f *fetcher) logf(format string, args ...any) {
	if f.opts.Log == nil {
		return
	}
	line := f.red.redact(fmt.Sprintf(format, args...))
	f.logMu.Lock()
	defer f.logMu.Unlock()
	if f.prog == nil {
		io.WriteString(f.opts.Log, line+"\n")
		return
	}
	f.prog.println(f.opts.Log, line)
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}
