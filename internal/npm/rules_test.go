package npm_test

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
)

// rulesProject exercises npm's rules for tarball entries and bins: modes,
// folders, links and duplicates inside tarballs, .gitignore, another top
// folder than package/, bundled packages, bin name clashes at one depth
// (where localeCompare and byte order disagree), a bin whose file is
// missing, CRLF first lines, nested and scoped bins, a package for
// another os, a dev dependency.
func rulesProject(t testing.TB) *sproject {
	bin := func(m map[string]string) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		return map[string]any{"bin": out}
	}
	return makeProject(t, map[string]any{"devDependencies": map[string]any{"devdep": "1.0.0"}},
		spkg{path: "node_modules/modes", entries: []npmtest.Member{
			{Name: "package/", Type: tar.TypeDir},
			pj("modes", "1.0.0"),
			{Name: "package/a.js", Body: "a"},
			{Name: "package/x.sh", Body: "#!/bin/sh\n", Mode: 0o755},
			{Name: "package/owner", Body: "o", Mode: 0o700},
			{Name: "package/group", Body: "g", Mode: 0o710},
			{Name: "package/none", Body: "n", Mode: 0o000},
			{Name: "package/empty-dir/", Type: tar.TypeDir},
			{Name: "package/sub/dir/f.js", Body: "f"},
			{Name: "package/link", Type: tar.TypeSymlink, Link: "a.js"},
			{Name: "package/hard", Type: tar.TypeLink, Link: "package/a.js"},
			{Name: "package/dup.js", Body: "first"},
			{Name: "package/dup.js", Body: "second"},
			{Name: "README", Body: "top-level file"},
			{Name: "package/fifo", Type: tar.TypeFifo},
			{Name: "package/.gitignore", Body: "g"},
		}},
		spkg{path: "node_modules/ignores", entries: []npmtest.Member{
			pj("ignores", "1.0.0"),
			{Name: "package/.npmignore", Body: "npm"},
			{Name: "package/.gitignore", Body: "git"},
			{Name: "package/sub/.gitignore", Body: "sub git"},
		}},
		spkg{path: "node_modules/otherroot", entries: []npmtest.Member{
			{Name: "foo/package.json", Body: `{"name": "otherroot", "version": "1.0.0"}`},
			{Name: "foo/index.js", Body: "x"},
		}},
		spkg{path: "node_modules/a_b", meta: bin(map[string]string{"clash": "c.js", "a_b": "c.js"}), entries: []npmtest.Member{pj("a_b", "1.0.0"), {Name: "package/c.js", Body: "underscore"}}},
		spkg{path: "node_modules/a-b", meta: bin(map[string]string{"clash": "c.js"}), entries: []npmtest.Member{pj("a-b", "1.0.0"), {Name: "package/c.js", Body: "dash"}}},
		spkg{path: "node_modules/m1", meta: bin(map[string]string{"ghost": "missing.js"}), entries: []npmtest.Member{pj("m1", "1.0.0")}},
		spkg{path: "node_modules/m2", meta: bin(map[string]string{"ghost": "present.js"}), entries: []npmtest.Member{pj("m2", "1.0.0"), {Name: "package/present.js", Body: "p"}}},
		spkg{path: "node_modules/crlf", meta: bin(map[string]string{"crlf": "cli.js"}), entries: []npmtest.Member{pj("crlf", "1.0.0"), {Name: "package/cli.js", Body: "#!/usr/bin/env node\r\nconsole.log(1)\r\n"}}},
		spkg{path: "node_modules/outer", meta: map[string]any{"dependencies": map[string]any{"inner": "1.0.0"}}, entries: []npmtest.Member{pj("outer", "1.0.0")}},
		spkg{path: "node_modules/outer/node_modules/inner", meta: bin(map[string]string{"inner": "i.js"}), entries: []npmtest.Member{pj("inner", "1.0.0"), {Name: "package/i.js", Body: "i"}}},
		spkg{path: "node_modules/@sc/pkg", meta: bin(map[string]string{"scoped": "s.js"}), entries: []npmtest.Member{pj("@sc/pkg", "1.0.0"), {Name: "package/s.js", Body: "s", Mode: 0o755}}},
		spkg{path: "node_modules/bundler", meta: map[string]any{"bundleDependencies": []string{"bundled"}, "dependencies": map[string]any{"bundled": "1.0.0"}}, entries: []npmtest.Member{
			pj("bundler", "1.0.0", `, "bundleDependencies": ["bundled"]`),
			{Name: "package/node_modules/bundled/package.json", Body: `{"name": "bundled", "version": "1.0.0", "bin": {"bundled-bin": "b.js"}}`},
			{Name: "package/node_modules/bundled/b.js", Body: "b"},
		}},
		spkg{path: "node_modules/bundler/node_modules/bundled", meta: map[string]any{"inBundle": true, "bin": map[string]any{"bundled-bin": "b.js"}}},
		spkg{path: "node_modules/darwin-only", meta: map[string]any{"os": []string{"darwin"}, "optional": true}, entries: []npmtest.Member{pj("darwin-only", "1.0.0")}},
		spkg{path: "node_modules/devdep", meta: map[string]any{"dev": true}, entries: []npmtest.Member{pj("devdep", "1.0.0")}},
	)
}

// TestRulesMatchNPMCI lays the rules project out and compares the tree
// with npm ci's from the same tarballs.
func TestRulesMatchNPMCI(t *testing.T) {
	p := rulesProject(t)
	_, got, res, err := p.install(t, npmtest.Node(t), npm.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	npmBin := npmtest.NPM(t)
	cache := t.TempDir()
	var files []string
	for _, f := range p.files {
		files = append(files, f)
	}
	sort.Strings(files)
	npmtest.RunNPM(t, npmBin, t.TempDir(), cache, append([]string{"cache", "add"}, files...)...)
	want := t.TempDir()
	for _, n := range []string{"package.json", "package-lock.json"} {
		data, _ := os.ReadFile(filepath.Join(p.dir, n))
		os.WriteFile(filepath.Join(want, n), data, 0o644)
	}
	npmtest.RunNPM(t, npmBin, want, cache, "ci", "--omit=dev", "--ignore-scripts", "--offline", "--no-audit", "--no-fund")
	diffs, sameBytes, err := npmtest.CompareNodeModules(want, got)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	if !sameBytes {
		t.Error("node_modules/.package-lock.json differs from npm's byte for byte")
	}
	// What the comparison relies on actually happened.
	tree, _ := npmtest.Tree(filepath.Join(got, "node_modules"))
	for path, e := range map[string]npmtest.Entry{
		".bin/clash":                            {Kind: 'l', Link: "../a_b/c.js"},
		".bin/crlf":                             {Kind: 'l', Link: "../crlf/cli.js"},
		".bin/scoped":                           {Kind: 'l', Link: "../@sc/pkg/s.js"},
		"outer/node_modules/.bin/inner":         {Kind: 'l', Link: "../inner/i.js"},
		"bundler/node_modules/.bin/bundled-bin": {Kind: 'l', Link: "../bundled/b.js"},
	} {
		if tree[path].Kind != e.Kind || tree[path].Link != e.Link {
			t.Errorf("%s: %+v, want a link to %s", path, tree[path], e.Link)
		}
	}
	for _, absent := range []string{".bin/ghost", "modes/empty-dir", "modes/link", "modes/hard", "modes/fifo", "darwin-only", "devdep", "ignores/.gitignore"} {
		if _, ok := tree[absent]; ok {
			t.Errorf("%s was laid out", absent)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(got, "node_modules/modes/dup.js")); string(data) != "second" {
		t.Errorf("dup.js holds %q, want the later entry", data)
	}
	if data, _ := os.ReadFile(filepath.Join(got, "node_modules/crlf/cli.js")); string(data) != "#!/usr/bin/env node\nconsole.log(1)\r\n" {
		t.Errorf("crlf/cli.js holds %q", data)
	}
	var skipped []string
	for _, s := range res.Skipped {
		skipped = append(skipped, s.Path)
	}
	if !slices.Equal(skipped, []string{"node_modules/darwin-only"}) {
		t.Errorf("skipped %v", skipped)
	}
	// The result lists every file of node_modules with its hash and mode.
	listed := map[string]npm.File{}
	for _, f := range res.Files {
		listed[f.Path] = f
	}
	for path, e := range tree {
		f, ok := listed["node_modules/"+path]
		switch {
		case e.Kind == 'd':
		case !ok:
			t.Errorf("node_modules/%s is not in the result's files", path)
		case e.Kind == 'l' && f.Link != e.Link:
			t.Errorf("node_modules/%s: result says link %q, tree %q", path, f.Link, e.Link)
		case e.Kind == 'f' && (f.Mode != e.Mode || f.SHA256 != hexOf(e.SHA256)):
			t.Errorf("node_modules/%s: result says mode %o sha256 %s; tree %o %s", path, f.Mode, f.SHA256, e.Mode, hexOf(e.SHA256))
		}
	}
}

// TestOptionalSetMatchesNPMCI: a platform package that fails takes with
// it the optional package that needs it and what only they need, as
// arborist's optional set does; what something else needs stays.
func TestOptionalSetMatchesNPMCI(t *testing.T) {
	deps := func(names ...string) map[string]any {
		m := map[string]any{}
		for _, n := range names {
			m[n] = "1.0.0"
		}
		return m
	}
	p := makeProject(t, map[string]any{"dependencies": deps("shared"), "optionalDependencies": deps("w")},
		spkg{path: "node_modules/w", meta: map[string]any{"optional": true, "dependencies": deps("p", "d", "shared")}, entries: []npmtest.Member{pj("w", "1.0.0")}},
		spkg{path: "node_modules/p", meta: map[string]any{"optional": true, "os": []string{"darwin"}}, entries: []npmtest.Member{pj("p", "1.0.0")}},
		spkg{path: "node_modules/d", meta: map[string]any{"optional": true}, entries: []npmtest.Member{pj("d", "1.0.0")}},
		spkg{path: "node_modules/shared", entries: []npmtest.Member{pj("shared", "1.0.0")}},
	)
	_, got, res, err := p.install(t, npmtest.Node(t), npm.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, s := range res.Skipped {
		skipped = append(skipped, s.Path+": "+s.Reason)
	}
	sort.Strings(skipped)
	want := []string{
		"node_modules/d: needed only by p@1.0.0, which is left out",
		"node_modules/p: for os darwin (the target is linux x64 glibc)",
		"node_modules/w: needed only by p@1.0.0, which is left out",
	}
	if !slices.Equal(skipped, want) {
		t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(skipped, "\n"), strings.Join(want, "\n"))
	}
	npmBin := npmtest.NPM(t)
	cache := t.TempDir()
	var files []string
	for _, f := range p.files {
		files = append(files, f)
	}
	npmtest.RunNPM(t, npmBin, t.TempDir(), cache, append([]string{"cache", "add"}, files...)...)
	wantDir := t.TempDir()
	for _, n := range []string{"package.json", "package-lock.json"} {
		data, _ := os.ReadFile(filepath.Join(p.dir, n))
		os.WriteFile(filepath.Join(wantDir, n), data, 0o644)
	}
	npmtest.RunNPM(t, npmBin, wantDir, cache, "ci", "--omit=dev", "--ignore-scripts", "--offline")
	diffs, _, err := npmtest.CompareNodeModules(wantDir, got)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}

// TestInstallFromArchive: the tarballs are read where they lie inside a
// tar archive of the folder (the bundle), under any prefix.
func TestInstallFromArchive(t *testing.T) {
	p := rulesProject(t)
	arc := filepath.Join(t.TempDir(), "bundle.tar")
	f, err := os.Create(arc)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "pipbake", Mode: 0o755, Size: 4, Typeflag: tar.TypeReg})
	tw.Write([]byte("ELF!"))
	for name, src := range p.files {
		data, _ := os.ReadFile(src)
		tw.WriteHeader(&tar.Header{Name: "npm/" + name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	f.Close()
	_, fromFolder, _, err := p.install(t, nil, npm.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.tarballs = arc
	_, fromArchive, _, err := p.install(t, nil, npm.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	diffs, same, err := npmtest.CompareNodeModules(fromFolder, fromArchive)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	if !same {
		t.Error("the hidden lockfiles differ")
	}
}

// TestEnginesReported: a package whose engines the target's node does
// not satisfy is installed and listed.
func TestEnginesReported(t *testing.T) {
	p := makeProject(t, nil, spkg{path: "node_modules/new", meta: map[string]any{"engines": map[string]any{"node": ">=99"}}, entries: []npmtest.Member{pj("new", "1.0.0")}},
		spkg{path: "node_modules/odd", meta: map[string]any{"engines": map[string]any{"node": "node >= 1"}}, entries: []npmtest.Member{pj("odd", "1.0.0")}})
	_, _, res, err := p.install(t, nil, npm.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"node_modules/new (new@1.0.0) wants node >=99; the target's is 20.19.2", `node_modules/odd (odd@1.0.0) wants node "node >= 1", which npm cannot read either`}
	if !slices.Equal(res.Engines, want) {
		t.Errorf("engines: %q", res.Engines)
	}
}

// TestWorkspaceLinkMatchesNPMCI: a workspace (the lock as npm writes it)
// is a link from node_modules to a folder of the project, which the app
// brings; its bins are linked through the link, as npm ci does.
func TestWorkspaceLinkMatchesNPMCI(t *testing.T) {
	dir := t.TempDir()
	lock := `{
  "name": "synth",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"name": "synth", "version": "1.0.0", "workspaces": ["packages/*"]},
    "node_modules/w": {"resolved": "packages/w", "link": true},
    "packages/w": {"version": "0.1.0", "bin": {"wtool": "tool.js"}}
  }
}
`
	pkgJSON := `{"name": "synth", "version": "1.0.0", "workspaces": ["packages/*"]}`
	wJSON := `{"name": "w", "version": "0.1.0", "bin": {"wtool": "tool.js"}}`
	os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(lock), 0o644)
	lk, err := npm.ReadLock(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sel, err := lk.Select(testRuntime, npm.SelectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(t.TempDir(), "app.tgz")
	os.WriteFile(app, npmtest.Tgz(t, npmtest.Member{Name: "package/package.json", Body: pkgJSON}, npmtest.Member{Name: "package/packages/w/package.json", Body: wJSON},
		npmtest.Member{Name: "package/packages/w/tool.js", Body: "#!/usr/bin/env node\n"}), 0o644)
	got := t.TempDir()
	if _, err := npm.Install(context.Background(), npm.InstallOptions{Selection: sel, Dir: got, App: app}); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(filepath.Join(got, "node_modules/w")); l != "../packages/w" {
		t.Errorf("node_modules/w links to %q", l)
	}

	want := t.TempDir()
	os.WriteFile(filepath.Join(want, "package.json"), []byte(pkgJSON), 0o644)
	os.WriteFile(filepath.Join(want, "package-lock.json"), []byte(lock), 0o644)
	os.MkdirAll(filepath.Join(want, "packages/w"), 0o755)
	os.WriteFile(filepath.Join(want, "packages/w/package.json"), []byte(wJSON), 0o644)
	os.WriteFile(filepath.Join(want, "packages/w/tool.js"), []byte("#!/usr/bin/env node\n"), 0o644)
	npmtest.RunNPM(t, npmtest.NPM(t), want, t.TempDir(), "ci", "--omit=dev", "--ignore-scripts", "--offline")
	diffs, sameBytes, err := npmtest.CompareNodeModules(want, got)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	if !sameBytes {
		t.Error("the hidden lockfiles differ byte for byte")
	}
	for _, p := range []string{"packages/w/tool.js"} {
		a, _ := os.Stat(filepath.Join(want, p))
		b, _ := os.Stat(filepath.Join(got, p))
		if a == nil || b == nil || a.Mode() != b.Mode() {
			t.Errorf("%s: mode %v, npm's %v", p, b, a)
		}
	}
}
