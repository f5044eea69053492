package install

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/venv"
)

// buildReceipt describes what inst installed into env.
func (p *pythonLayout) buildReceipt(env *venv.Env, inst *installation, opts Options) (*receipt.Receipt, error) {
	set, lk, tg := p.set, p.lk, p.tg
	created, err := createdTime(opts.Now)
	if err != nil {
		return nil, err
	}
	spec, err := tg.Spec()
	if err != nil {
		return nil, err
	}
	abis := append(append([]string(nil), spec.ABIs...), "abi3", "none")
	rc := &receipt.Receipt{
		Schema:    receipt.Schema,
		Set:       set.Name,
		Release:   p.id,
		Created:   created,
		Pipbake:   opts.Version,
		Installer: set.Installer,
		Compiled:  set.Compile,
		Lock:      receipt.Lock{Path: lk.Path, SHA256: lk.SHA256, Format: string(lk.Format)},
		Interpreter: receipt.Interpreter{
			Path:           tg.Executable,
			Version:        tg.VersionFull,
			Implementation: tg.Implementation,
			Platform:       tg.Platform,
			Tags:           receipt.Tags{Interpreter: spec.Interpreter(), ABIs: abis, Platforms: spec.Platforms},
		},
	}
	for i, d := range inst.dists {
		rc.Distributions = append(rc.Distributions, receipt.Distribution{
			Name: d.name, Version: d.version, Wheel: d.w.Name.File, SHA256: p.digests[i],
			DistInfo: d.distInfo, Files: d.files,
			Summary: d.w.Metadata.Summary, License: d.w.Metadata.License, RequiresDist: d.w.Metadata.RequiresDist,
		})
	}
	sortDistributions(rc.Distributions)
	for _, rel := range env.Files {
		p := filepath.Join(env.Dir, filepath.FromSlash(rel))
		e := receipt.EnvFile{Path: rel}
		if to, err := os.Readlink(p); err == nil {
			e.Link = to
		} else {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("receipt: %w", err)
			}
			sum := sha256.Sum256(data)
			e.SHA256 = hex.EncodeToString(sum[:])
		}
		rc.Environment = append(rc.Environment, e)
	}
	return rc, nil
}

func sortDistributions(ds []receipt.Distribution) {
	sort.Slice(ds, func(i, j int) bool { return pyname.Normalize(ds[i].Name) < pyname.Normalize(ds[j].Name) })
}

// createdTime is SOURCE_DATE_EPOCH when set (reproducible builds), else now.
func createdTime(now func() time.Time) (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds: %w", s, err)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return now().UTC().Truncate(time.Second), nil
}
