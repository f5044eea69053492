package install

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// TestNodeSet installs the Express fixture with its app as a Node set:
// the tree equals npm ci's from the same tarballs, the app answers a
// request from current, the receipt and SBOM describe it, verify holds
// it to the per-file manifest, and installing it again is a verified
// no-op.
func TestNodeSet(t *testing.T) {
	f := npmtest.Get(t, "express")
	proj := f.Project(t)
	app := f.ExpressApp(t, t.TempDir())
	root := filepath.Join(t.TempDir(), "srv", "web")
	t.Setenv("SOURCE_DATE_EPOCH", "1764133200")
	set := Set{Name: "web", Lock: filepath.Join(proj, "package-lock.json"), Root: root, App: app}
	opts := Options{Release: "r1", Tarballs: f.Folder(t), Version: "test"}
	res, err := Run(context.Background(), set, opts)
	if err != nil {
		t.Fatal(err)
	}
	cur := filepath.Join(root, "current")
	if currentOf(t, root) != "r1" {
		t.Fatalf("current = %q", currentOf(t, root))
	}

	// The tree is npm ci's (the app's files aside).
	want := f.NPMCI(t, false)
	diffs, sameBytes, err := npmtest.CompareNodeModules(want, cur)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	if !sameBytes {
		t.Error("node_modules/.package-lock.json differs from npm's byte for byte")
	}

	// The app runs from current.
	if body := npmtest.ServeApp(t, f.Runtime.ExecPath, cur, "server.js"); !strings.HasPrefix(body, "hello from pipbake, express 4.") {
		t.Errorf("the app answered %q", body)
	}

	rc := res.Receipt
	appData, _ := os.ReadFile(app)
	if rc.Ecosystem != receipt.EcosystemNode || rc.Interpreter.Implementation != "node" || rc.Interpreter.Path != f.Runtime.ExecPath ||
		rc.App == nil || rc.App.Integrity != npm.SRI(appData) || rc.App.Name != "pipbake-express-fixture" || rc.App.Version != "1.0.0" || rc.App.Files != 2 {
		t.Errorf("receipt: ecosystem %q interpreter %+v app %+v", rc.Ecosystem, rc.Interpreter, rc.App)
	}
	var express *receipt.Distribution
	for i, d := range rc.Distributions {
		if d.Dev {
			t.Errorf("dev dependency %s installed", d.Path)
		}
		if d.Path == "node_modules/express" {
			express = &rc.Distributions[i]
		}
	}
	if express == nil || !strings.HasPrefix(express.Integrity, "sha512-") || express.PURL != "pkg:npm/express@"+express.Version ||
		express.Tarball != "express@"+express.Version+".tgz" || len(express.DependsOn) < 10 || express.License != "MIT" {
		t.Fatalf("express in the receipt: %+v", express)
	}
	if len(rc.Manifest) != rc.Files || rc.Files < 200 {
		t.Errorf("manifest lists %d files, the release holds %d", len(rc.Manifest), rc.Files)
	}

	// The SBOM: npm purls, sha512 hashes, the lock's graph.
	var bom struct {
		Components []struct {
			BOMRef string `json:"bom-ref"`
			PURL   string `json:"purl"`
			Hashes []struct{ Alg, Content string }
		}
		Dependencies []struct {
			Ref       string
			DependsOn []string
		}
	}
	data, _ := os.ReadFile(filepath.Join(cur, receipt.SBOMName))
	if err := json.Unmarshal(data, &bom); err != nil {
		t.Fatal(err)
	}
	if len(bom.Components) != len(rc.Distributions) {
		t.Errorf("SBOM has %d components, receipt %d packages", len(bom.Components), len(rc.Distributions))
	}
	for _, c := range bom.Components {
		if !strings.HasPrefix(c.PURL, "pkg:npm/") || len(c.Hashes) != 1 || c.Hashes[0].Alg != "SHA-512" || len(c.Hashes[0].Content) != 128 {
			t.Errorf("component %+v", c)
			break
		}
	}
	var expressDeps []string
	for _, d := range bom.Dependencies {
		if d.Ref == "pkg:npm/express@"+express.Version {
			expressDeps = d.DependsOn
		}
	}
	if !strings.Contains(strings.Join(expressDeps, " "), "pkg:npm/body-parser@") {
		t.Errorf("express depends on %v in the SBOM", expressDeps)
	}

	rep, err := receipt.Verify(cur, receipt.Options{})
	if err != nil || !rep.Clean() {
		t.Fatalf("verify: %v %s", err, describe(rep.Problems))
	}

	// Again: a verified no-op.
	again, err := Run(context.Background(), set, opts)
	if err != nil || !again.Skipped {
		t.Fatalf("second install: %v %+v", err, again)
	}
}

// TestNodeVerifyFindsDrift changes a Node release the ways verify must
// notice: a file's content (same size), a file added (a .pyc under
// __pycache__ too: nothing writes bytecode into a Node release), a file
// removed, a mode, a bin link.
func TestNodeVerifyFindsDrift(t *testing.T) {
	f := npmtest.Get(t, "express")
	proj := f.Project(t)
	root := filepath.Join(t.TempDir(), "web")
	if _, err := Run(context.Background(), Set{Lock: filepath.Join(proj, "package-lock.json"), Root: root},
		Options{Release: "r1", Tarballs: f.Folder(t), Version: "test"}); err != nil {
		t.Fatal(err)
	}
	cur := filepath.Join(root, "releases", "r1")
	mod := filepath.Join(cur, "node_modules/express/lib/express.js")
	data, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-2] ^= 1
	steps := []struct {
		name, path, kind string
		do               func() error
	}{
		{"content", "node_modules/express/lib/express.js", receipt.Modified, func() error { return os.WriteFile(mod, data, 0o644) }},
		{"added", "node_modules/express/evil.js", receipt.Unexpected, func() error {
			return os.WriteFile(filepath.Join(cur, "node_modules/express/evil.js"), []byte("x"), 0o644)
		}},
		{"pyc", "node_modules/express/__pycache__/x.cpython-311.pyc", receipt.Unexpected, func() error {
			if err := os.Mkdir(filepath.Join(cur, "node_modules/express/__pycache__"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(cur, "node_modules/express/__pycache__/x.cpython-311.pyc"), []byte("x"), 0o644)
		}},
		{"removed", "node_modules/express/index.js", receipt.Missing, func() error { return os.Remove(filepath.Join(cur, "node_modules/express/index.js")) }},
		{"mode", "node_modules/express/package.json", receipt.Modified, func() error { return os.Chmod(filepath.Join(cur, "node_modules/express/package.json"), 0o755) }},
		{"bin link", "node_modules/.bin/mime", receipt.Modified, func() error {
			p := filepath.Join(cur, "node_modules/.bin/mime")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink("../express/index.js", p)
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		rep, err := receipt.Verify(cur, receipt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range rep.Problems {
			if p.Path == s.path && p.Kind == s.kind {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: verify did not report %s %s: %s", s.name, s.kind, s.path, describe(rep.Problems))
		}
	}
}
