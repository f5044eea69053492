package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
)

// The docs pipeline: field comments in Go ─(make generate: packer-sdc
// struct-markdown)─▶ docs-partials/ ─┐
// docs/ (templates with @include) ───┴─(make docs: .web-docs/scripts/render.go)─▶ .web-docs/
// These tests fail when either output is stale.

const regenerate = "run `make docs` (it runs `make generate` first) and commit the result"

// TestWebDocsUpToDate renders docs/ into a temporary folder and compares it
// with the committed .web-docs/.
func TestWebDocsUpToDate(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("go", "run", ".web-docs/scripts/render.go", "-out", out)
	cmd.Dir = repoRoot
	cmd.Env = target.CleanEnv(os.Environ())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("render: %v\n%s", err, b)
	}
	diffTrees(t, filepath.Join(repoRoot, ".web-docs"), out, func(rel string) bool {
		return rel == "scripts" || strings.HasPrefix(rel, "scripts"+string(filepath.Separator))
	})
}

// TestDocsPartialsUpToDate runs packer-sdc struct-markdown on a copy of
// every file that asks for it (go:generate) and compares the partials with
// the committed docs-partials/.
func TestDocsPartialsUpToDate(t *testing.T) {
	const directive = "//go:generate go tool packer-sdc struct-markdown"
	var files []string
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != repoRoot && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "testdata" || name == "vendor" || name == "node_modules" || name == "out" || name == "dist") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(line) == directive {
				rel, _ := filepath.Rel(repoRoot, path)
				files = append(files, rel)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no file asks for packer-sdc struct-markdown")
	}
	// struct-markdown finds the project by a folder named packer-plugin-*
	// and writes <project>/docs-partials/<file's folder>/<Type>*.mdx.
	proj := filepath.Join(t.TempDir(), "packer-plugin-pipbake")
	sdc := sdcBinary(t)
	for _, rel := range files {
		src, err := os.ReadFile(filepath.Join(repoRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(proj, rel)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, src, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sdc, "struct-markdown", dst)
		cmd.Dir = filepath.Dir(dst)
		cmd.Env = target.CleanEnv(os.Environ())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("packer-sdc struct-markdown %s: %v\n%s", rel, err, out)
		}
	}
	gen := filepath.Join(proj, "docs-partials")
	n := 0
	filepath.WalkDir(gen, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		rel, _ := filepath.Rel(gen, path)
		want, _ := os.ReadFile(path)
		have, err := os.ReadFile(filepath.Join(repoRoot, "docs-partials", rel))
		switch {
		case err != nil:
			t.Errorf("docs-partials/%s is missing; %s", rel, regenerate)
		case !bytes.Equal(have, want):
			t.Errorf("docs-partials/%s is stale (%s); %s", rel, firstDiff(have, want), regenerate)
		}
		return nil
	})
	t.Logf("%d partials from %d files checked", n, len(files))
}

// linuxOnly are the pages of components only the Linux plugin registers
// (builders_linux.go).
var linuxOnly = map[string]bool{"builders/oci.mdx": true}

// TestDocsComponents checks that every component the plugin registers has
// a page under docs/ (and so in .web-docs and metadata.hcl), and that
// every page is of a registered component (off Linux, of one or of a
// Linux-only one).
func TestDocsComponents(t *testing.T) {
	d := describe(t, pluginBinary(t))
	slug := func(n string) string {
		if n == "-packer-default-plugin-name-" { // plugin.DEFAULT_NAME: the component is named like the plugin
			return "pipbake"
		}
		return n
	}
	registered := map[string]bool{}
	for dir, names := range map[string][]string{
		"builders": d.Builders, "provisioners": d.Provisioners,
		"post-processors": d.PostProcessors, "datasources": d.Datasources,
	} {
		for _, n := range names {
			registered[dir+"/"+slug(n)+".mdx"] = true
		}
	}
	pages := map[string]bool{}
	for _, dir := range []string{"builders", "provisioners", "post-processors", "datasources"} {
		ents, _ := os.ReadDir(filepath.Join(repoRoot, "docs", dir))
		for _, e := range ents {
			pages[dir+"/"+e.Name()] = true
		}
	}
	for _, p := range sortedKeys(registered) {
		if !pages[p] {
			t.Errorf("the plugin registers a component without docs: write docs/%s (front matter with nav_title, a `# title`, @include of its docs-partials; see docs/provisioners/pipbake.mdx), then %s", p, regenerate)
		}
	}
	for _, p := range sortedKeys(pages) {
		if !registered[p] && !(linuxOnly[p] && runtime.GOOS != "linux") {
			t.Errorf("docs/%s documents a component the plugin does not register (it registers %v)", p, sortedKeys(registered))
		}
	}
}

// TestDocsHCLFormatted runs `packer fmt -check` on every ```hcl block of
// the docs templates.
func TestDocsHCLFormatted(t *testing.T) {
	p := packertest.New(t, packertest.Options{Quiet: true})
	block := regexp.MustCompile("(?s)```hcl\n(.*?)```")
	n := 0
	filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".mdx") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(repoRoot, "docs"), path)
		for i, m := range block.FindAllSubmatch(b, -1) {
			name := fmt.Sprintf("%s.%d.pkr.hcl", strings.NewReplacer(string(filepath.Separator), "_", ".mdx", "").Replace(rel), i+1)
			p.WriteFile(filepath.Join("blocks", name), string(m[1]))
			n++
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no hcl blocks found under docs/")
	}
	r := p.FmtCheck("blocks")
	if !r.OK() {
		t.Errorf("packer fmt -check: hcl blocks in docs/ (named <page>.<n>.pkr.hcl) are not formatted:\n%s", r.Output)
	}
}

// diffTrees fails t for every file that differs between the committed
// folder want and the freshly generated folder got.
func diffTrees(t *testing.T, want, got string, skip func(rel string) bool) {
	t.Helper()
	files := func(root string) map[string]bool {
		m := map[string]bool{}
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if rel != "." && skip(rel) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() {
				m[rel] = true
			}
			return nil
		})
		return m
	}
	w, g := files(want), files(got)
	for _, rel := range sortedKeys(g) {
		if !w[rel] {
			t.Errorf(".web-docs/%s is missing; %s", rel, regenerate)
			continue
		}
		a, _ := os.ReadFile(filepath.Join(want, rel))
		b, _ := os.ReadFile(filepath.Join(got, rel))
		if !bytes.Equal(a, b) {
			t.Errorf(".web-docs/%s is stale (%s); %s", rel, firstDiff(a, b), regenerate)
		}
	}
	for _, rel := range sortedKeys(w) {
		if !g[rel] {
			t.Errorf(".web-docs/%s is no longer generated; %s (render.go removes it)", rel, regenerate)
		}
	}
}

// firstDiff describes the first line that differs between have and want.
func firstDiff(have, want []byte) string {
	h, w := strings.Split(string(have), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(h) || i < len(w); i++ {
		var a, b string
		if i < len(h) {
			a = h[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b || i >= len(h) || i >= len(w) {
			return fmt.Sprintf("line %d is %q, want %q", i+1, a, b)
		}
	}
	return "same lines"
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
