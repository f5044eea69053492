//go:build !pipbake_agent

package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/fetch"
	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/marker"
	"github.com/pipbake/packer-plugin-pipbake/internal/tags"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
)

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

var fetchHelp = commandHelp{
	name: "fetch",
	does: "gather the wheels (or npm tarballs) locks pin, hash-verified, into a wheelhouse folder",
	forms: []string{
		"--lock FILE ... --out DIR (--python-version V --platform TAG ... | --target-python PATH) [--source URL|DIR|s3://...] [--json]",
		"--lock package-lock.json --out DIR (--os OS --cpu CPU [--libc LIBC] | --target-node PATH) [--source ...] [--json]",
	},
	example: "pipbake fetch --lock api.txt --out wheels --python-version 3.11 --platform manylinux_2_36_x86_64",
	more:    fetchMore,
}

const fetchMore = `Gathers the wheels the locks pin, for the target's Python and platform,
verified against the locks' sha256, into DIR with a wheelhouse.json that
"pipbake install --wheelhouse DIR" takes as it is. DIR changes only when
every pin succeeded.

The target is a local interpreter (--target-python) or described by
--python-version and --platform (and --implementation, --abi).

Sources are tried in order for each pin: http(s) simple indexes (PEP 503
HTML or PEP 691 JSON), s3://bucket/prefix (AWS default credential chain;
--s3-endpoint or AWS_ENDPOINT_URL for S3-compatible stores), and folders.
Without --source, each lock's own --index-url, --extra-index-url and
--find-links, or its pylock.toml wheel URLs, are used.

npm locks (package-lock.json, npm-shrinkwrap.json) fetch the tarballs
they pin for the target's --os, --cpu and --libc (or --target-node),
each checked against its integrity, into DIR (one file per tarball and
npm-tarballs.json); --source is a registry base URL that replaces the
part of each resolved URL before the package name, a folder, or
s3://bucket/prefix; credentials also come from .npmrc
(//host/:_authToken, :_auth, :username and :_password).

Credentials: user:password in an index URL, netrc ($NETRC or ~/.netrc),
` + fetch.EnvTokenPrefix + `<HOST> (e.g. ` + fetch.EnvTokenPrefix + `PYPI_EXAMPLE_COM) for one host, or
` + fetch.EnvToken + ` for the origins of --source URLs; a token is sent as basic
auth with user __token__ (or ` + fetch.EnvUser + `). A redirect to another
scheme, host or port carries only that origin's own credentials. They
are never printed.`

func cmdFetch(ctx context.Context, s stdio, args []string) error {
	fs := fetchHelp.flags(s)
	var locks, sources, platforms listFlag
	fs.Var(&locks, "lock", "lock `file` (hashed requirements or pylock.toml); repeat for several")
	out := fs.String("out", "", "wheelhouse `folder` to write (new, empty, or an earlier fetch's)")
	fs.Var(&sources, "source", "index `URL`, s3://bucket/prefix or folder; repeat, tried in order (default: the locks' own)")
	pyVersion := fs.String("python-version", "", "target Python `version`, e.g. 3.11")
	fs.Var(&platforms, "platform", "target platform `tag`, e.g. manylinux_2_36_x86_64; repeat for several")
	impl := fs.String("implementation", "cp", "target Python `implementation`: cp, pp, ...")
	abi := fs.String("abi", "", "target ABI `tag`, e.g. cp311 (default: from the version)")
	targetPython := fs.String("target-python", "", "take the target from this local `interpreter` instead")
	cache := fs.String("cache", "", "cache `folder` (default ~/.cache/pipbake/fetch)")
	jobs := fs.Int("jobs", fetch.DefaultJobs, "fetch `N` wheels at once")
	s3Endpoint := fs.String("s3-endpoint", "", "S3-compatible endpoint `URL` (default: AWS_ENDPOINT_URL, else AWS)")
	asJSON := fs.Bool("json", false, "print the result (or the problems) as JSON")
	quiet := fs.Bool("quiet", false, "print only errors")
	nf := &npmFetchFlags{
		os:         fs.String("os", "", "npm locks: the target's `os` (node's process.platform: linux, darwin, ...)"),
		cpu:        fs.String("cpu", "", "npm locks: the target's `cpu` (node's process.arch: x64, arm64, ...)"),
		libc:       fs.String("libc", "", "npm locks: the target's `libc` (glibc or musl; default glibc on linux)"),
		targetNode: fs.String("target-node", "", "npm locks: take the target from this local `node` instead"),
		includeDev: fs.Bool("include-dev", false, "npm locks: fetch the dev dependencies too"),
	}
	fs.Var(&nf.npmrc, "npmrc", "npm locks: .npmrc `file` with registry credentials; repeat (default ~/.npmrc and the lock's folder's)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if npmLocks := countNPM(locks); npmLocks > 0 {
		if npmLocks != len(locks) {
			return usageErr("fetch: give either npm locks or Python locks, not both (fetch each into its own folder)")
		}
		if *out == "" {
			return usageErr("fetch: give --out")
		}
		return cmdFetchNPM(ctx, s, locks, sources, nf, *out, *cache, *jobs, *s3Endpoint, *asJSON, *quiet)
	}
	usage := func(format string, args ...any) error { return usageErr("fetch: "+format, args...) }
	switch {
	case len(locks) == 0:
		return usage("give at least one --lock")
	case *out == "":
		return usage("give --out")
	case *jobs < 1:
		return usage("--jobs must be at least 1")
	case *targetPython != "" && (*pyVersion != "" || len(platforms) > 0 || *abi != ""):
		return usage("give either --target-python or --python-version/--platform/--abi, not both")
	case *targetPython == "" && (*pyVersion == "" || len(platforms) == 0):
		return usage("describe the target with --python-version and --platform, or give --target-python")
	}

	stderr := s.stderr
	if *quiet {
		stderr = nil
	}
	var parsed []*lock.Lock
	var errs []error
	for _, p := range locks {
		lk, err := lock.ParseFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, w := range lk.Warnings {
			if stderr != nil {
				fmt.Fprintf(stderr, "pipbake fetch: warning: %s\n", w)
			}
		}
		parsed = append(parsed, lk)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	var supported []tags.Tag
	var env marker.Env
	if *targetPython != "" {
		tg, err := target.Probe(ctx, *targetPython)
		if err != nil {
			return err
		}
		if supported, err = tg.Tags(); err != nil {
			return err
		}
		env = tg.Markers
	} else {
		d := target.Description{PythonVersion: *pyVersion, Platforms: platforms, Implementation: *impl, ABI: *abi}
		var err error
		if supported, err = d.Tags(); err != nil {
			return usage("%v", err)
		}
		if env, err = d.Markers(); err != nil {
			return usage("%v", err)
		}
	}

	opts := fetch.Options{
		Locks: parsed, Out: *out, Sources: sources, Tags: supported, Env: env,
		Cache: *cache, Jobs: *jobs, Log: stderr, S3Endpoint: *s3Endpoint,
	}
	if !*quiet && !*asJSON { // a bar on a terminal, else a line now and then (progress.ModeOf)
		opts.Progress = s.stderr
	}
	res, err := fetch.Fetch(ctx, opts)
	if err != nil {
		var fe *fetch.Error
		if *asJSON && errors.As(err, &fe) {
			_ = printJSON(s.stdout, struct {
				Error    string          `json:"error"`
				Out      string          `json:"out"`
				Problems []fetch.Problem `json:"problems"`
			}{err.Error(), fe.Out, fe.Problems})
			return &exitError{code: 1}
		}
		return err
	}
	if *asJSON {
		return printJSON(s.stdout, res)
	}
	if !*quiet {
		fmt.Fprintf(s.stdout, "fetched %d wheels into %s (%d downloaded, %s; %d from the cache) in %.2fs\n",
			len(res.Wheels), res.Out, res.Downloaded, mb(res.DownloadedBytes), res.FromCache, res.Seconds)
	}
	return nil
}

// countNPM counts the npm locks among the lock files given.
func countNPM(locks []string) int {
	n := 0
	for _, l := range locks {
		if isNPMLock(l) {
			n++
		}
	}
	return n
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
