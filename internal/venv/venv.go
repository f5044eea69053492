// Package venv creates Python virtual environments without running Python
// or pip: the same files `python -m venv --without-pip` writes, for the
// interpreter a target.Target describes.
package venv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/umask"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// Env is a created environment.
type Env struct {
	// Dir is where the files are now; Final is where the environment will
	// live when it is used (they differ when it is built in a staging
	// directory and renamed into place). Paths inside files use Final.
	Dir, Final string
	// Python is the environment's interpreter at its final path.
	Python string
	// Scheme holds the install directories under Dir.
	Scheme wheel.Scheme
	// Files are the files and symlinks the environment itself consists of,
	// relative to Dir, for receipts and verify.
	Files []string
}

// Create writes a virtual environment for t into dir, which must not exist
// or be empty, as if it had been created at final.
func Create(t *target.Target, dir, final string) (*Env, error) {
	if final == "" {
		final = dir
	}
	if !filepath.IsAbs(final) {
		return nil, fmt.Errorf("create venv: final path %q must be absolute", final)
	}
	if strings.Contains(final, ":") {
		return nil, fmt.Errorf("create venv at %q: the path contains the PATH separator ':'", final)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("create venv %q: %w", dir, err)
	}
	c := &creator{t: t, dir: dir, final: final}
	if err := c.create(); err != nil {
		return nil, fmt.Errorf("create venv %q: %w", dir, err)
	}
	return c.env, nil
}

type creator struct {
	t          *target.Target
	dir, final string
	env        *Env
}

func (c *creator) rel(key string) string { return filepath.FromSlash(c.t.Paths[key]) }

func (c *creator) create() error {
	t := c.t
	minor := t.Version[1]
	scriptsRel := c.rel("scripts")
	purelib := c.rel("purelib")
	include := "include" // venv's include directory, whatever posix_prefix says
	if t.Scheme == "venv" && c.rel("include") != "" {
		include = c.rel("include")
	}
	exeDir, exeName := filepath.Split(t.BaseExecutable)
	exeDir = filepath.Clean(exeDir)
	c.env = &Env{Dir: c.dir, Final: c.final, Python: filepath.Join(c.final, scriptsRel, "python")}
	platlib := c.rel("platlib")
	c.env.Scheme = wheel.Scheme{
		Purelib: filepath.Join(c.dir, purelib),
		Platlib: filepath.Join(c.dir, platlib),
		Scripts: filepath.Join(c.dir, scriptsRel),
		// pip's headers directory for a virtual environment; the
		// distribution's name is appended per wheel.
		Headers: filepath.Join(c.dir, include, "site", fmt.Sprintf("python%d.%d", t.Version[0], minor)),
		Data:    c.dir,
	}

	for _, d := range []string{include, purelib, scriptsRel} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o777); err != nil {
			return err
		}
	}
	if t.PointerBits == 64 && strings.HasPrefix(t.Platform, "linux") {
		if err := c.symlink("lib", "lib64"); err != nil {
			return err
		}
	}
	// pyvenv.cfg, as venv writes it for this version
	var cfg bytes.Buffer
	fmt.Fprintf(&cfg, "home = %s\n", exeDir)
	cfg.WriteString("include-system-site-packages = false\n")
	fmt.Fprintf(&cfg, "version = %d.%d.%d\n", t.Version[0], t.Version[1], t.Version[2])
	if minor >= 11 {
		fmt.Fprintf(&cfg, "executable = %s\n", t.RealExecutable)
		fmt.Fprintf(&cfg, "command = %s -m venv --without-pip %s\n", t.Executable, c.final)
	}
	if err := c.write("pyvenv.cfg", cfg.Bytes(), 0o666); err != nil {
		return err
	}
	if minor >= 13 {
		if err := c.write(".gitignore", []byte("# Created by venv; see https://docs.python.org/3/library/venv.html\n*\n"), 0o666); err != nil {
			return err
		}
	}
	// interpreter links: bin/<exe> -> the base interpreter, the others -> bin/<exe>
	if err := c.symlink(t.BaseExecutable, filepath.Join(scriptsRel, exeName)); err != nil {
		return err
	}
	names := []string{"python", "python3"}
	if minor >= 9 {
		names = append(names, fmt.Sprintf("python3.%d", minor))
	}
	for _, n := range names {
		if n == exeName {
			continue
		}
		if err := c.symlink(exeName, filepath.Join(scriptsRel, n)); err != nil {
			return err
		}
	}
	return c.activateScripts(scriptsRel, exeName)
}

func (c *creator) activateScripts(scriptsRel, exeName string) error {
	src := c.t.VenvScripts
	if src == "" {
		return nil // an interpreter without venv templates (Debian without python3-venv): no activate scripts
	}
	prompt := "(" + filepath.Base(c.final) + ") "
	if c.t.Version[1] >= 13 {
		prompt = filepath.Base(c.final)
	}
	vars := [][2]string{
		{"__VENV_DIR__", c.final},
		{"__VENV_NAME__", filepath.Base(c.final)},
		{"__VENV_PROMPT__", prompt},
		{"__VENV_BIN_NAME__", scriptsRel},
		{"__VENV_PYTHON__", filepath.Join(c.final, scriptsRel, exeName)},
	}
	for _, sub := range []string{"common", "posix"} {
		dir := filepath.Join(src, sub)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read venv script templates: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return fmt.Errorf("read venv script template: %w", err)
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			text := string(data)
			for _, v := range vars {
				val := v[1]
				if c.t.VenvQuotes {
					val = quoteFor(e.Name(), val)
				}
				text = strings.ReplaceAll(text, v[0], val)
			}
			if err := c.write(filepath.Join(scriptsRel, e.Name()), []byte(text), info.Mode().Perm()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *creator) write(rel string, data []byte, mode os.FileMode) error {
	p := filepath.Join(c.dir, rel)
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(p, mode&^umask.Get()); err != nil {
		return err
	}
	c.env.Files = append(c.env.Files, filepath.ToSlash(rel))
	return nil
}

func (c *creator) symlink(to, rel string) error {
	if err := os.Symlink(to, filepath.Join(c.dir, rel)); err != nil {
		return err
	}
	c.env.Files = append(c.env.Files, filepath.ToSlash(rel))
	return nil
}

// quoteFor quotes a value for the script it goes into, as venv does since
// gh-124651: PowerShell single quotes for .ps1, nothing for .bat, POSIX
// shell quoting otherwise.
func quoteFor(script, s string) string {
	switch {
	case strings.HasSuffix(script, ".ps1"):
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	case strings.HasSuffix(script, ".bat"):
		return s
	}
	return shell.Quote(s)
}
