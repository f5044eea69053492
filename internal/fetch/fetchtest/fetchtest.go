// Package fetchtest lays out package indexes for tests and benchmarks of
// pipbake fetch: a static PEP 503 HTML tree and a PEP 691 JSON tree of
// the same files, ready to be served by nginx (nginxtest) or read from
// disk.
package fetchtest

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// File is one distribution file of an index.
type File struct {
	Path string // on disk
	// RequiresPython is written as data-requires-python / requires-python.
	RequiresPython string
	// NoHash leaves the sha256 out of the index page.
	NoHash bool
}

// Index describes a written index.
type Index struct {
	Root string
	// Files maps each file name to its sha256.
	Files map[string]string
}

// Project returns the normalized project name of a wheel or sdist file
// name ("" when it is neither).
func Project(file string) string {
	if n, err := wheel.ParseName(file); err == nil {
		return n.Key()
	}
	for _, ext := range []string{".tar.gz", ".zip"} {
		if stem, ok := strings.CutSuffix(file, ext); ok {
			if i := strings.LastIndex(stem, "-"); i > 0 {
				return pyname.Normalize(stem[:i])
			}
		}
	}
	return ""
}

// WriteIndex lays out files under root:
//
//	root/files/<file>                 the files (hard links, else copies)
//	root/simple/index.html            PEP 503 project list
//	root/simple/<project>/index.html  PEP 503 page: <a href="../../files/F#sha256=H">
//	root/json/<project>/index.json    PEP 691 page (serve as application/vnd.pypi.simple.v1+json)
func WriteIndex(root string, files []File) (*Index, error) {
	idx := &Index{Root: root, Files: map[string]string{}}
	byProject := map[string][]File{}
	sums := map[string]string{}
	if err := os.MkdirAll(filepath.Join(root, "files"), 0o755); err != nil {
		return nil, err
	}
	for _, f := range files {
		name := filepath.Base(f.Path)
		p := Project(name)
		if p == "" {
			return nil, fmt.Errorf("fetchtest: %s is neither a wheel nor an sdist", name)
		}
		dst := filepath.Join(root, "files", name)
		if err := linkOrCopy(f.Path, dst); err != nil {
			return nil, err
		}
		sum, _, err := wheelhouse.HashFile(dst)
		if err != nil {
			return nil, err
		}
		sums[name], idx.Files[name] = sum, sum
		byProject[p] = append(byProject[p], f)
	}
	projects := make([]string, 0, len(byProject))
	for p := range byProject {
		projects = append(projects, p)
	}
	sort.Strings(projects)
	var list strings.Builder
	list.WriteString("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Simple index</title></head><body>\n")
	for _, p := range projects {
		fmt.Fprintf(&list, "<a href=\"%s/\">%s</a>\n", p, p)
		var page strings.Builder
		fmt.Fprintf(&page, "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for %s</title></head><body>\n<h1>Links for %s</h1>\n", p, p)
		type jsonFile struct {
			Filename       string            `json:"filename"`
			URL            string            `json:"url"`
			Hashes         map[string]string `json:"hashes"`
			RequiresPython *string           `json:"requires-python,omitempty"`
		}
		doc := struct {
			Meta  map[string]string `json:"meta"`
			Name  string            `json:"name"`
			Files []jsonFile        `json:"files"`
		}{Meta: map[string]string{"api-version": "1.0"}, Name: p, Files: []jsonFile{}}
		fs := byProject[p]
		sort.Slice(fs, func(i, j int) bool { return filepath.Base(fs[i].Path) < filepath.Base(fs[j].Path) })
		for _, f := range fs {
			name := filepath.Base(f.Path)
			href := "../../files/" + url.PathEscape(name)
			jf := jsonFile{Filename: name, URL: href, Hashes: map[string]string{}}
			if !f.NoHash {
				href += "#sha256=" + sums[name]
				jf.Hashes["sha256"] = sums[name]
			}
			attr := ""
			if f.RequiresPython != "" {
				attr = fmt.Sprintf(" data-requires-python=\"%s\"", html.EscapeString(f.RequiresPython))
				rp := f.RequiresPython
				jf.RequiresPython = &rp
			}
			fmt.Fprintf(&page, "<a href=\"%s\"%s>%s</a><br/>\n", html.EscapeString(href), attr, html.EscapeString(name))
			doc.Files = append(doc.Files, jf)
		}
		page.WriteString("</body></html>\n")
		if err := writeFile(filepath.Join(root, "simple", p, "index.html"), []byte(page.String())); err != nil {
			return nil, err
		}
		data, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(root, "json", p, "index.json"), data); err != nil {
			return nil, err
		}
	}
	list.WriteString("</body></html>\n")
	if err := writeFile(filepath.Join(root, "simple", "index.html"), []byte(list.String())); err != nil {
		return nil, err
	}
	return idx, nil
}

// NginxLocations serves root/json/<project>/ as PEP 691 JSON; put it in
// nginxtest.Options.Server.
const NginxLocations = `location /json/ {
      index index.json;
      types { }
      default_type application/vnd.pypi.simple.v1+json;
    }`

func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

func linkOrCopy(src, dst string) error {
	os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
