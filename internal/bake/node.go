package bake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/fetch"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

// nodeEcosystem bakes Node sets: the npm tarballs the lock pins for the
// machine's node (its platform, arch and libc), the project's
// package.json and the app's tarball.
type nodeEcosystem struct{}

var _ ecosystem = nodeEcosystem{}

// node is a probed node.
type node struct{ rt *npm.Runtime }

func (n node) describe() string { return n.rt.String() + " at " + n.rt.Node }

func (n node) version() string { return "node " + n.rt.Version }

func nodeOf(s plan.Set) string {
	if s.Node == "" {
		return "node"
	}
	return s.Node
}

func (nodeEcosystem) runtime(s plan.Set) string { return nodeOf(s) }
func (nodeEcosystem) probe(n string) string     { return npm.ProbeCommand(n) }

func (nodeEcosystem) decode(out []byte, n string) (probed, error) {
	rt, err := npm.DecodeProbe(out, n)
	if err != nil {
		return nil, err
	}
	return node{rt}, nil
}

func (nodeEcosystem) bundle(ctx context.Context, opts Options, s plan.Set, p probed, dir string) (*bundled, error) {
	rt := p.(node).rt
	lk, err := npm.ReadLock(s.Lock)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", s.Name, err)
	}
	sel, err := lk.Select(rt, npm.SelectOptions{IncludeDev: s.IncludeDev})
	if err != nil {
		return nil, fmt.Errorf("set %q (%s on the machine): %w", s.Name, rt, err)
	}
	folder := opts.Tarballs
	if folder == "" {
		folder = opts.Wheelhouse
	}
	if len(opts.Sources) > 0 {
		if _, err := fetch.FetchNPM(ctx, fetch.NPMOptions{Locks: []*npm.Lock{lk}, Out: dir, Sources: opts.Sources, Runtime: rt,
			IncludeDev: s.IncludeDev, Cache: opts.Cache, S3Endpoint: opts.S3Endpoint, Log: opts.Log}); err != nil {
			return nil, fmt.Errorf("set %q: fetch npm tarballs for %s: %w", s.Name, rt, err)
		}
		folder = dir
	}
	b := &bundled{packages: map[string]string{}, own: map[string]string{}, set: s}
	var missing []string
	for _, pk := range sel.Packages {
		switch pk.Kind() {
		case npm.Registry, npm.Remote, npm.LocalTarball:
		default:
			continue
		}
		file := npm.TarballFile(pk.Name, pk.Version)
		if folder == "" {
			missing = append(missing, file)
			continue
		}
		p := filepath.Join(folder, file)
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			missing = append(missing, file)
			continue
		}
		b.packages["npm/"+file] = p
	}
	if len(missing) > 0 {
		where := "no tarballs folder or sources were given"
		if folder != "" {
			if st, err := os.Stat(folder); err == nil && !st.IsDir() {
				return nil, fmt.Errorf("set %q: tarballs %s: the bundle is made from a folder of tarballs, not an archive", s.Name, folder)
			}
			where = folder + " has no"
		}
		more := ""
		if len(missing) > 10 {
			more = fmt.Sprintf(" and %d more", len(missing)-10)
			missing = missing[:10]
		}
		return nil, fmt.Errorf("set %q (%s on the machine): %s %s%s (fetch them with pipbake fetch --lock %s)", s.Name, rt, where, strings.Join(missing, ", "), more, s.Lock)
	}
	pj := filepath.Join(filepath.Dir(s.Lock), "package.json")
	if _, err := os.Stat(pj); err == nil {
		b.own["package.json"] = pj
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("set %q: %w", s.Name, err)
	}
	if s.App != "" {
		if _, err := os.Stat(s.App); err != nil {
			return nil, fmt.Errorf("set %q: app: %w", s.Name, err)
		}
		base := filepath.Base(s.App)
		if base == "package.json" || base == filepath.Base(s.Lock) {
			return nil, fmt.Errorf("set %q: app %s: a tarball of that name cannot go beside the lock", s.Name, s.App)
		}
		b.own[base] = s.App
		b.set.App = base
	}
	b.set.Node = nodeOf(s)
	b.set.Kind = plan.KindNode
	return b, nil
}
