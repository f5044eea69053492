package wheelbuild

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// Generator is the Generator line of the wheels this package builds.
const Generator = "pipbake-wheelbuild"

// Options tune a build.
type Options struct {
	// ModTime is the timestamp of every archive entry. Zero means
	// wheelpack.ModTime(): SOURCE_DATE_EPOCH if set, else 1980-01-01.
	ModTime time.Time
}

// Build builds the wheel of the project in fsys into dir and returns where
// it went and its digest.
func Build(fsys fs.FS, dir string, opts Options) (wheelpack.Result, error) {
	b, err := builder(fsys, opts)
	if err != nil {
		return wheelpack.Result{}, err
	}
	return b.WriteFile(dir)
}

// Write builds the wheel of the project in fsys and writes the archive to
// w; Result.Path is empty.
func Write(fsys fs.FS, w io.Writer, opts Options) (wheelpack.Result, error) {
	b, err := builder(fsys, opts)
	if err != nil {
		return wheelpack.Result{}, err
	}
	return b.Write(w)
}

func builder(fsys fs.FS, opts Options) (*wheelpack.Builder, error) {
	p, err := Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("build wheel: %w", err)
	}
	what := fmt.Sprintf("build wheel %q", p.Name+" "+p.Version)
	b, err := wheelpack.New(wheelpack.Meta{
		Name: p.Name, Version: p.Version, Tags: []string{"py3-none-any"},
		RootIsPurelib: true, Generator: Generator, ModTime: opts.ModTime,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := addSources(b, fsys); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	files := map[string][]byte{"METADATA": p.metadata()}
	if ep := p.entryPoints(); len(ep) > 0 {
		files["entry_points.txt"] = ep
	}
	for _, name := range sortedKeys(files) {
		if err := b.Add(b.DistInfo()+"/"+name, 0o644, files[name]); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	return b, nil
}

// addSources adds every package and module under src/, leaving out
// bytecode, dot-files and egg-info left behind by other tools.
func addSources(b *wheelpack.Builder, fsys fs.FS) error {
	if _, err := fs.Stat(fsys, "src"); errors.Is(err, fs.ErrNotExist) {
		return errors.New("no src/ directory (wheelbuild expects the src layout: src/<package>/__init__.py)")
	}
	added := 0
	err := fs.WalkDir(fsys, "src", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p == "src" {
			return nil
		}
		skip := strings.HasPrefix(name, ".") || name == "__pycache__" || strings.HasSuffix(name, ".egg-info") ||
			strings.HasSuffix(name, ".pyc") || strings.HasSuffix(name, ".pyo")
		switch {
		case d.IsDir() && skip:
			return fs.SkipDir
		case d.IsDir() || skip:
			return nil
		case path.Dir(p) == "src" && path.Ext(name) != ".py":
			return nil // only modules and packages belong at the top level
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", p)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		added++
		// Fixed modes: the wheel must not depend on how the tree was
		// checked out or embedded.
		return b.Add(strings.TrimPrefix(p, "src/"), 0o644, data)
	})
	if err != nil {
		return fmt.Errorf("read src/: %w", err)
	}
	if added == 0 {
		return errors.New("no packages or modules under src/ (want src/<package>/ or src/<module>.py)")
	}
	return nil
}

// metadata renders METADATA (core metadata 2.1).
func (p *Project) metadata() []byte {
	var buf bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\n", k, v) }
	h("Metadata-Version", "2.1")
	h("Name", p.Name)
	h("Version", p.Version)
	if p.Description != "" {
		h("Summary", p.Description)
	}
	if p.RequiresPython != "" {
		h("Requires-Python", p.RequiresPython)
	}
	for _, d := range p.Dependencies {
		h("Requires-Dist", d)
	}
	for _, extra := range sortedKeys(p.OptionalDependencies) {
		h("Provides-Extra", extra)
		for _, d := range p.OptionalDependencies[extra] {
			h("Requires-Dist", withExtra(d, extra))
		}
	}
	if p.ReadmeContentType != "" {
		h("Description-Content-Type", p.ReadmeContentType)
	}
	if p.Readme != "" {
		buf.WriteString("\n")
		buf.WriteString(p.Readme)
		if !strings.HasSuffix(p.Readme, "\n") {
			buf.WriteString("\n")
		}
	}
	return buf.Bytes()
}

// withExtra adds `extra == "name"` to a requirement's marker.
func withExtra(req, extra string) string {
	cond := fmt.Sprintf(`extra == "%s"`, extra)
	if spec, marker, ok := strings.Cut(req, ";"); ok {
		return fmt.Sprintf("%s; (%s) and %s", strings.TrimSpace(spec), strings.TrimSpace(marker), cond)
	}
	return fmt.Sprintf("%s; %s", strings.TrimSpace(req), cond)
}

// entryPoints renders entry_points.txt, or nil when there are none.
func (p *Project) entryPoints() []byte {
	var buf bytes.Buffer
	section := func(group string, eps map[string]string) {
		if len(eps) == 0 {
			return
		}
		if buf.Len() > 0 {
			buf.WriteString("\n")
		}
		fmt.Fprintf(&buf, "[%s]\n", group)
		for _, name := range sortedKeys(eps) {
			fmt.Fprintf(&buf, "%s = %s\n", name, eps[name])
		}
	}
	section("console_scripts", p.Scripts)
	section("gui_scripts", p.GUIScripts)
	for _, g := range sortedKeys(p.EntryPoints) {
		section(g, p.EntryPoints[g])
	}
	return buf.Bytes()
}
