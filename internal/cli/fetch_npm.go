//go:build !pipbake_agent

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pipbake/packer-plugin-pipbake/internal/fetch"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
)

// npmFetchFlags are the flags of pipbake fetch for npm locks.
type npmFetchFlags struct {
	os, cpu, libc, targetNode *string
	includeDev                *bool
	npmrc                     listFlag
}

// isNPMLock says whether a lock file is npm's: by its name
// (package-lock.json, npm-shrinkwrap.json), else by its content (a JSON
// object with a lockfileVersion).
func isNPMLock(p string) bool {
	if npm.IsLockFile(p) {
		return true
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	return npm.LooksLikeLock(head[:n])
}

// cmdFetchNPM is pipbake fetch for npm locks: the tarballs they pin for
// the target's os, cpu and libc.
func cmdFetchNPM(ctx context.Context, s stdio, locks, sources []string, nf *npmFetchFlags, out, cache string, jobs int, s3Endpoint string, asJSON, quiet bool) error {
	usage := func(format string, args ...any) error { return usageErr("fetch: "+format, args...) }
	var rt *npm.Runtime
	switch {
	case *nf.targetNode != "" && (*nf.os != "" || *nf.cpu != "" || *nf.libc != ""):
		return usage("give either --target-node or --os/--cpu/--libc, not both")
	case *nf.targetNode != "":
		var err error
		if rt, err = npm.Probe(ctx, npm.Local{}, *nf.targetNode); err != nil {
			return err
		}
	case *nf.os == "" || *nf.cpu == "":
		return usage("describe the target with --os and --cpu (node's process.platform and process.arch, e.g. --os linux --cpu x64 --libc glibc), or give --target-node")
	default:
		rt = &npm.Runtime{Platform: *nf.os, Arch: *nf.cpu, Libc: *nf.libc}
		if rt.Platform == "linux" && rt.Libc == "" {
			rt.Libc = "glibc"
		}
	}
	var parsed []*npm.Lock
	var errs []error
	for _, p := range locks {
		lk, err := npm.ReadLock(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		parsed = append(parsed, lk)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	stderr := s.stderr
	if quiet {
		stderr = nil
	}
	opts := fetch.NPMOptions{Locks: parsed, Out: out, Sources: sources, Runtime: rt, IncludeDev: *nf.includeDev,
		Cache: cache, Jobs: jobs, Log: stderr, S3Endpoint: s3Endpoint}
	if len(nf.npmrc) > 0 {
		opts.NPMRC = nf.npmrc
	}
	if !quiet && !asJSON { // a bar on a terminal, else a line now and then (progress.ModeOf)
		opts.Progress = s.stderr
	}
	res, err := fetch.FetchNPM(ctx, opts)
	if err != nil {
		var fe *fetch.Error
		if asJSON && errors.As(err, &fe) {
			_ = printJSON(s.stdout, struct {
				Error    string          `json:"error"`
				Out      string          `json:"out"`
				Problems []fetch.Problem `json:"problems"`
			}{err.Error(), fe.Out, fe.Problems})
			return &exitError{code: 1}
		}
		return err
	}
	if asJSON {
		return printJSON(s.stdout, res)
	}
	if !quiet {
		fmt.Fprintf(s.stdout, "fetched %d npm tarballs for %s %s into %s (%d downloaded, %s; %d from the cache; %d left out for the target) in %.2fs\n",
			len(res.Tarballs), rt.Platform, rt.Arch, res.Out, res.Downloaded, mb(res.DownloadedBytes), res.FromCache, len(res.Skipped), res.Seconds)
	}
	return nil
}
