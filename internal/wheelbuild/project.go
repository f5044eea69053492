// Package wheelbuild builds a pure-Python wheel (py3-none-any) from a source
// tree in the src layout whose pyproject.toml has a [project] table: no
// build backend, no Python, and the same bytes from the same tree.
package wheelbuild

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// Project is the supported part of pyproject.toml's [project] table.
type Project struct {
	Name           string
	Version        string
	Description    string
	RequiresPython string
	// Readme is the long description and its content type, from
	// readme = "FILE" or readme = {file|text = ..., content-type = ...}.
	Readme, ReadmeContentType string
	Dependencies              []string
	// OptionalDependencies maps each extra (normalized) to its
	// requirements.
	OptionalDependencies map[string][]string
	// Scripts and GUIScripts map a command name to "module:function".
	Scripts, GUIScripts map[string]string
	// EntryPoints are the other entry point groups.
	EntryPoints map[string]map[string]string
}

type pyproject struct {
	Project *struct {
		Name                 string                       `toml:"name"`
		Version              string                       `toml:"version"`
		Description          string                       `toml:"description"`
		RequiresPython       string                       `toml:"requires-python"`
		Readme               any                          `toml:"readme"`
		Dependencies         []string                     `toml:"dependencies"`
		OptionalDependencies map[string][]string          `toml:"optional-dependencies"`
		Scripts              map[string]string            `toml:"scripts"`
		GUIScripts           map[string]string            `toml:"gui-scripts"`
		EntryPoints          map[string]map[string]string `toml:"entry-points"`
		Dynamic              []string                     `toml:"dynamic"`
	} `toml:"project"`
}

var (
	// versionRE matches a normalized PEP 440 version.
	versionRE   = regexp.MustCompile(`^([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$`)
	requireRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?\s*(\[[^\]]*\])?\s*([(<>=!~;@ ].*)?$`)
	objectRefRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	epNameRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+-]*$`)
)

// Load reads and validates fsys's pyproject.toml.
func Load(fsys fs.FS) (*Project, error) {
	data, err := fs.ReadFile(fsys, "pyproject.toml")
	if err != nil {
		return nil, fmt.Errorf("read pyproject.toml: %w", err)
	}
	var doc pyproject
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		return nil, fmt.Errorf("parse pyproject.toml: %w", err)
	}
	raw := doc.Project
	if raw == nil {
		return nil, errors.New("pyproject.toml: no [project] table")
	}
	for _, key := range md.Undecoded() {
		// Deeper keys belong to fields decoded as tables of any shape.
		if len(key) == 2 && key[0] == "project" {
			return nil, fmt.Errorf("pyproject.toml: [project] field %q is not supported by wheelbuild", key[1])
		}
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("pyproject.toml: [project] %s: %s", field, fmt.Sprintf(format, args...))
	}
	if len(raw.Dynamic) > 0 {
		return nil, bad("dynamic", "dynamic fields (%s) are not supported by wheelbuild", strings.Join(raw.Dynamic, ", "))
	}
	p := &Project{
		Name: raw.Name, Version: raw.Version, Description: raw.Description, RequiresPython: raw.RequiresPython,
		Dependencies: raw.Dependencies, Scripts: raw.Scripts, GUIScripts: raw.GUIScripts, EntryPoints: raw.EntryPoints,
		OptionalDependencies: map[string][]string{},
	}
	switch {
	case p.Name == "":
		return nil, bad("name", "missing")
	case !pyname.Valid(p.Name):
		return nil, bad("name", "%q is not a valid project name", p.Name)
	case p.Version == "":
		return nil, bad("version", "missing")
	case !versionRE.MatchString(p.Version):
		return nil, bad("version", "%q is not a normalized PEP 440 version", p.Version)
	case strings.ContainsAny(p.Description, "\r\n"):
		return nil, bad("description", "must be a single line")
	case strings.ContainsAny(p.RequiresPython, "\r\n"):
		return nil, bad("requires-python", "must be a single line")
	}
	for _, d := range p.Dependencies {
		if !requireRE.MatchString(d) || strings.ContainsAny(d, "\r\n") {
			return nil, bad("dependencies", "%q is not a requirement", d)
		}
	}
	for extra, deps := range raw.OptionalDependencies {
		norm := pyname.Normalize(extra)
		if !pyname.Valid(extra) {
			return nil, bad("optional-dependencies", "%q is not a valid extra name", extra)
		}
		if _, dup := p.OptionalDependencies[norm]; dup {
			return nil, bad("optional-dependencies", "extra %q is given twice", norm)
		}
		for _, d := range deps {
			if !requireRE.MatchString(d) || strings.ContainsAny(d, "\r\n") {
				return nil, bad("optional-dependencies."+extra, "%q is not a requirement", d)
			}
		}
		p.OptionalDependencies[norm] = deps
	}
	for field, group := range map[string]map[string]string{"scripts": p.Scripts, "gui-scripts": p.GUIScripts} {
		if err := checkEntryPoints(field, group); err != nil {
			return nil, err
		}
	}
	for g, group := range p.EntryPoints {
		if g == "console_scripts" || g == "gui_scripts" {
			return nil, bad("entry-points."+g, "use [project.scripts] or [project.gui-scripts]")
		}
		if err := checkEntryPoints("entry-points."+g, group); err != nil {
			return nil, err
		}
	}
	if err := p.loadReadme(fsys, raw.Readme); err != nil {
		return nil, err
	}
	return p, nil
}

func checkEntryPoints(field string, group map[string]string) error {
	for name, ref := range group {
		if !epNameRE.MatchString(name) {
			return fmt.Errorf("pyproject.toml: [project] %s: %q is not a valid entry point name", field, name)
		}
		if !objectRefRE.MatchString(ref) {
			return fmt.Errorf("pyproject.toml: [project] %s: %s = %q is not \"module:function\"", field, name, ref)
		}
	}
	return nil
}

func (p *Project) loadReadme(fsys fs.FS, v any) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("pyproject.toml: [project] readme: %s", fmt.Sprintf(format, args...))
	}
	var file, text, ctype string
	switch r := v.(type) {
	case nil:
		return nil
	case string:
		file = r
	case map[string]any:
		for k, val := range r {
			s, ok := val.(string)
			if !ok {
				return bad("%s must be a string", k)
			}
			switch k {
			case "file":
				file = s
			case "text":
				text = s
			case "content-type":
				ctype = s
			default:
				return bad("field %q is not supported", k)
			}
		}
		if (file == "") == (text == "") {
			return bad("give exactly one of file and text")
		}
		if ctype == "" {
			return bad("content-type is required in a table")
		}
	default:
		return bad("must be a file name or a table")
	}
	if file != "" {
		if !fs.ValidPath(file) {
			return bad("%q is not a relative path inside the project", file)
		}
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return fmt.Errorf("pyproject.toml: [project] readme: %w", err)
		}
		text = string(data)
		if ctype == "" {
			switch strings.ToLower(path.Ext(file)) {
			case ".md":
				ctype = "text/markdown"
			case ".rst":
				ctype = "text/x-rst"
			case ".txt", "":
				ctype = "text/plain"
			default:
				return bad("cannot tell the content type of %s; use a table with content-type", file)
			}
		}
	}
	p.Readme, p.ReadmeContentType = text, ctype
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
