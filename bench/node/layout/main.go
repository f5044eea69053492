// Command layout lays a Node set out the way pipbake installs it, for
// bench/node until `pipbake install` takes npm locks (phase 2 of the
// Node work wires internal/npm into install, receipts and verify):
//
//	layout -lock package-lock.json -tarballs DIR -dir RELEASE [-node node]
//
// probes node, reads the lock, selects for the target, checks every
// tarball's integrity, lays node_modules out (bins, hidden lockfile) and
// writes the per-file sha256 list a receipt holds (layout.json).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
)

func main() {
	lockPath := flag.String("lock", "", "package-lock.json (required)")
	tarballs := flag.String("tarballs", "", "folder of tarballs pipbake fetch wrote, or a tar of it (required)")
	dir := flag.String("dir", "", "release folder to create (required)")
	node := flag.String("node", "node", "the target's node")
	dev := flag.Bool("include-dev", false, "lay the dev dependencies out too")
	jobs := flag.Int("jobs", 0, "tarballs unpacked at once (default 4 per CPU)")
	flag.Parse()
	if *lockPath == "" || *tarballs == "" || *dir == "" {
		flag.Usage()
		os.Exit(2)
	}
	log.SetFlags(0)
	log.SetPrefix("layout: ")
	if err := run(*lockPath, *tarballs, *dir, *node, *dev, *jobs); err != nil {
		log.Fatal(err)
	}
}

func run(lockPath, tarballs, dir, node string, dev bool, jobs int) error {
	ctx := context.Background()
	rt, err := npm.Probe(ctx, npm.Local{}, node)
	if err != nil {
		return err
	}
	lk, err := npm.ReadLock(lockPath)
	if err != nil {
		return err
	}
	sel, err := lk.Select(rt, npm.SelectOptions{IncludeDev: dev})
	if err != nil {
		return err
	}
	tb, err := npm.OpenTarballs(tarballs)
	if err != nil {
		return err
	}
	defer tb.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pj, _ := os.ReadFile(filepath.Join(filepath.Dir(lockPath), "package.json"))
	res, err := npm.Install(ctx, npm.InstallOptions{Selection: sel, Tarballs: tb, Dir: dir, PackageJSON: pj, Jobs: jobs})
	if err != nil {
		return err
	}
	data, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "layout.json"), data, 0o644); err != nil {
		return err
	}
	fmt.Printf("%d packages, %d files\n", len(res.Packages), len(res.Files))
	return nil
}
