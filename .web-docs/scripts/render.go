//go:build ignore

// Command render builds .web-docs/, the plugin's docs in the layout of
// Packer's integration portal, from the templates under docs/ and the
// field references under docs-partials/:
//
//	go run .web-docs/scripts/render.go [-out DIR]     # make docs
//
// It runs `go tool packer-sdc renderdocs` (which replaces every
// `@include 'partial.mdx'` with the partial) into a temporary folder, then
// compiles the result:
//
//	docs/README.mdx                  → README.md (front matter dropped)
//	docs/<kind>s/<name>.mdx          → components/<kind>/<name>/README.md
//	                                   (front matter and the title dropped:
//	                                   the portal adds the title)
//	front matter of all of them      → metadata.hcl
//
// where <kind>s is builders, provisioners, post-processors or datasources
// (data-source in the output). README.mdx's front matter gives the
// integration's name (page_title), description and identifier; each
// component's gives its name (nav_title). The file's base name is the
// component's slug: the name it is registered under in the plugin
// (`pipbake` for the provisioner registered as the plugin's default).
//
// Only README.md, metadata.hcl and components/ in the output folder are
// replaced; anything else there (this script) is left alone. The tests in
// cmd/packer-plugin-pipbake render into a temporary folder and fail when
// .web-docs differs.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// kinds maps docs/ folders to the portal's component types, in the order
// metadata.hcl lists them.
var kinds = []struct{ dir, typ string }{
	{"builders", "builder"},
	{"provisioners", "provisioner"},
	{"post-processors", "post-processor"},
	{"datasources", "data-source"},
}

func main() {
	out := flag.String("out", ".web-docs", "output folder")
	src := flag.String("src", "docs", "the docs templates")
	partials := flag.String("partials", "docs-partials", "the partials @include reads")
	flag.Parse()
	if err := render(*src, *partials, *out); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func render(src, partials, out string) error {
	tmp, err := os.MkdirTemp("", "pipbake-docs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rendered := filepath.Join(tmp, "rendered")
	goBin := os.Getenv("GO")
	if goBin == "" {
		goBin = "go"
	}
	cmd := exec.Command(goBin, "tool", "packer-sdc", "renderdocs", "-src", src, "-partials", partials, "-dst", rendered)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("packer-sdc renderdocs: %v\n%s", err, b)
	}

	staged := filepath.Join(tmp, "web-docs")
	readme, err := readPage(filepath.Join(rendered, "README.mdx"))
	if err != nil {
		return err
	}
	for _, k := range []string{"page_title", "description", "identifier"} {
		if readme.meta[k] == "" {
			return fmt.Errorf("%s/README.mdx: front matter lacks %s", src, k)
		}
	}
	if err := writeFile(filepath.Join(staged, "README.md"), readme.body); err != nil {
		return err
	}

	var meta bytes.Buffer
	fmt.Fprintf(&meta, "# The Packer integration's metadata, generated from %s/ by\n", src)
	fmt.Fprintf(&meta, "# .web-docs/scripts/render.go (make docs): do not edit.\n")
	fmt.Fprintf(&meta, "integration {\n")
	fmt.Fprintf(&meta, "  name        = %s\n", hclString(readme.meta["page_title"]))
	fmt.Fprintf(&meta, "  description = %s\n", hclString(oneLine(readme.meta["description"])))
	fmt.Fprintf(&meta, "  identifier  = %s\n", hclString(readme.meta["identifier"]))

	known := map[string]bool{"README.mdx": true}
	for _, k := range kinds {
		known[k.dir] = true
		dir := filepath.Join(rendered, k.dir)
		ents, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			return err
		}
		var names []string
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".mdx") {
				return fmt.Errorf("%s/%s/%s: only component pages (<name>.mdx) belong there", src, k.dir, e.Name())
			}
			names = append(names, strings.TrimSuffix(e.Name(), ".mdx"))
		}
		sort.Strings(names)
		for _, slug := range names {
			p, err := readPage(filepath.Join(dir, slug+".mdx"))
			if err != nil {
				return err
			}
			name := p.meta["nav_title"]
			if name == "" {
				return fmt.Errorf("%s/%s/%s.mdx: front matter lacks nav_title (the component's name)", src, k.dir, slug)
			}
			body, ok := dropTitle(p.body)
			if !ok {
				return fmt.Errorf("%s/%s/%s.mdx: the page must start with a `# title` line after its front matter", src, k.dir, slug)
			}
			if err := writeFile(filepath.Join(staged, "components", k.typ, slug, "README.md"), body); err != nil {
				return err
			}
			fmt.Fprintf(&meta, "  component {\n    type = %s\n    name = %s\n    slug = %s\n  }\n",
				hclString(k.typ), hclString(name), hclString(slug))
		}
	}
	fmt.Fprintf(&meta, "}\n")
	if err := writeFile(filepath.Join(staged, "metadata.hcl"), meta.String()); err != nil {
		return err
	}
	ents, err := os.ReadDir(rendered)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !known[e.Name()] {
			return fmt.Errorf("%s/%s: not README.mdx or a component folder (%s)", src, e.Name(), kindDirs())
		}
	}

	// Replace the generated parts of out with the staged ones.
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"README.md", "metadata.hcl", "components"} {
		if err := os.RemoveAll(filepath.Join(out, name)); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(staged, name), filepath.Join(out, name)); err != nil {
			return copyTree(filepath.Join(staged, name), filepath.Join(out, name))
		}
	}
	return nil
}

func kindDirs() string {
	var d []string
	for _, k := range kinds {
		d = append(d, k.dir)
	}
	return strings.Join(d, ", ")
}

type page struct {
	meta map[string]string
	body string
}

// readPage splits a rendered page into its YAML front matter (a small
// subset: `key: value`, and `key: |-` or `key: >-` followed by indented
// lines) and its body, and checks every @include was replaced.
func readPage(path string) (page, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return page{}, err
	}
	if bytes.Contains(b, []byte("@include '")) {
		return page{}, fmt.Errorf("%s: an @include was not replaced", path)
	}
	p := page{meta: map[string]string{}}
	text := string(b)
	if !strings.HasPrefix(text, "---\n") {
		p.body = trimBody(text)
		return p, nil
	}
	end := strings.Index(text[4:], "\n---\n")
	if end < 0 {
		return page{}, fmt.Errorf("%s: front matter is not closed with ---", path)
	}
	front, body := text[4:4+end+1], text[4+end+5:]
	var key, style string
	var block []string
	flush := func() {
		if key == "" {
			return
		}
		sep := "\n"
		if strings.HasPrefix(style, ">") {
			sep = " "
		}
		p.meta[key] = strings.Join(block, sep)
		key, block = "", nil
	}
	sc := bufio.NewScanner(strings.NewReader(front))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if key != "" && (strings.HasPrefix(line, " ") || line == "") {
			block = append(block, strings.TrimSpace(line))
			continue
		}
		flush()
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") {
			return page{}, fmt.Errorf("%s: front matter line %d: want `key: value`", path, n+1)
		}
		v = strings.TrimSpace(v)
		switch v {
		case "|", "|-", ">", ">-":
			key, style = strings.TrimSpace(k), v
		default:
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
				v = v[1 : len(v)-1]
			}
			p.meta[strings.TrimSpace(k)] = v
		}
	}
	flush()
	p.body = trimBody(body)
	return p, nil
}

// dropTitle removes the first line when it is a `# ` title, and the blank
// lines after it.
func dropTitle(body string) (string, bool) {
	first, rest, _ := strings.Cut(body, "\n")
	if !strings.HasPrefix(first, "# ") {
		return body, false
	}
	return trimBody(rest), true
}

// trimBody drops leading blank lines and ends the text with one newline.
func trimBody(s string) string {
	s = strings.TrimLeft(s, "\n")
	return strings.TrimRight(s, "\n") + "\n"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// hclString quotes s as an HCL string literal, escaping template
// sequences.
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
