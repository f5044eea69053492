// Package receipt records what an install put into a release (the receipt,
// pipbake-receipt.json, and a CycloneDX SBOM beside it) and verifies an
// installed release against it.
package receipt

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Schema is the receipt format version written. Schema 2 added the
// anchors verify checks a release against: each RECORD's sha256, the SBOM's
// sha256, the file count of distinct files and every file's mode. Read
// accepts schema 1 receipts too; Verify reports them as unanchored.
const Schema = 2

// Readable reports whether this pipbake reads receipts of schema n.
func Readable(n int) bool { return n == 1 || n == 2 }

// Names of the files written into each release.
const (
	FileName = "pipbake-receipt.json"
	SBOMName = "pipbake-sbom.cdx.json"
)

// Receipt describes one installed package set.
type Receipt struct {
	Schema    int       `json:"schema"`
	Set       string    `json:"set"`
	Release   string    `json:"release"`
	Created   time.Time `json:"created"`
	Pipbake   string    `json:"pipbake"`
	Installer string    `json:"installer"`
	Compiled  bool      `json:"compiled"`
	// (No count of the .pyc files taken from the bytecode cache: the
	// receipt must not depend on the cache's state, or a cold and a warm
	// install of the same lock would differ. install.Result has it. The
	// "bytecode" field receipts of an earlier pipbake carry is ignored.)
	Lock        Lock        `json:"lock"`
	Interpreter Interpreter `json:"interpreter"`
	// Distributions are the installed wheels, sorted by name.
	Distributions []Distribution `json:"distributions"`
	// Environment lists the virtual environment's own files (pyvenv.cfg,
	// interpreter links, activate scripts), relative to the release.
	Environment []EnvFile `json:"environment"`
	// Files counts every file and link in the release, receipt and SBOM
	// excluded (schema 1: the sum of the distributions' counts, a file two
	// distributions ship counted twice; schema 2: distinct paths).
	Files int `json:"files"`
	// SBOMSHA256 is the sha256 of the SBOM file (schema 2).
	SBOMSHA256 string `json:"sbom_sha256,omitempty"`
	// Modes are the permission bits of every file and directory (schema 2).
	Modes *Modes `json:"modes,omitempty"`

	// Ecosystem is the kind of set: "" (Python, the receipts written
	// before there was another) or "node".
	Ecosystem string `json:"ecosystem,omitempty"`
	// Manifest lists every file and link the install wrote (but the
	// receipt and SBOM), sorted by path, with its sha256 and size: what
	// Verify holds a release to when its packages carry no RECORD (npm
	// packages). Distributions without a DistInfo are checked against it.
	Manifest []ManifestFile `json:"manifest,omitempty"`
	// App is the set's own project, when the set has one (a Node set's
	// lock root, and the tarball unpacked at the release root).
	App *App `json:"app,omitempty"`
	// IncludeDev says dev dependencies were installed; ScriptsAllow names
	// the packages whose lifecycle scripts were allowed to run.
	IncludeDev   bool     `json:"include_dev,omitempty"`
	ScriptsAllow []string `json:"scripts_allow,omitempty"`
	// Scripts are the lifecycle scripts that ran, in order; ScriptsNotRun
	// names the packages that have some and were not allowed.
	Scripts       []Script `json:"scripts,omitempty"`
	ScriptsNotRun []string `json:"scripts_not_run,omitempty"`
	// Skipped are the lock's entries left out for the target (optional
	// packages of another os, cpu or libc).
	Skipped []Skipped `json:"skipped,omitempty"`
	// Warnings are what the install noted about the set and let pass
	// (engines the runtime does not satisfy).
	Warnings []string `json:"warnings,omitempty"`
}

// ManifestFile is one file or link of a release's Manifest.
type ManifestFile struct {
	Path string `json:"path"`
	// SHA256 and Size describe a regular file; Link is a symlink's target.
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Link   string `json:"link,omitempty"`
}

// App is a set's own project.
type App struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	// File and Integrity describe the project's tarball (`npm pack`
	// output), when one was unpacked; Files counts its files.
	File      string `json:"file,omitempty"`
	Integrity string `json:"integrity,omitempty"`
	Files     int    `json:"files,omitempty"`
}

// Script is one lifecycle script run.
type Script struct {
	Package string `json:"package"` // its path in the lock
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Event   string `json:"event"`
	Command string `json:"command"`
}

// Skipped is a lock entry left out for the target.
type Skipped struct {
	Path   string `json:"path"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// EcosystemNode is Receipt.Ecosystem of a Node set.
const EcosystemNode = "node"

// Runtime names the set's runtime: "python" or "node".
func (r *Receipt) Runtime() string {
	if r.Ecosystem == "" {
		return "python"
	}
	return r.Ecosystem
}

// Modes records the permission bits (octal, set-id and sticky bits
// included) of every regular file and directory of a release, the release
// directory itself excepted, by class: a file with an execute bit is in
// Executables and has Exec's bits, any other file has File's, a directory
// Dir's; Other gives the bits of the paths that differ from their class's.
type Modes struct {
	File        string            `json:"file"`
	Exec        string            `json:"exec,omitempty"`
	Dir         string            `json:"dir"`
	Executables []string          `json:"executables"`
	Other       map[string]string `json:"other,omitempty"`
}

// Lock identifies the lock file a set was installed from.
type Lock struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Format string `json:"format"`
}

// Interpreter identifies the base interpreter and the tags it supports.
type Interpreter struct {
	Path           string `json:"path"`
	Version        string `json:"version"`
	Implementation string `json:"implementation"`
	Platform       string `json:"platform"`
	// Tags give the supported tags compactly: every combination is
	// supported in the order packaging.tags lists them.
	Tags Tags `json:"tags"`
}

// Tags is the compact form of an interpreter's supported tags.
type Tags struct {
	Interpreter string   `json:"interpreter"`
	ABIs        []string `json:"abis"`
	Platforms   []string `json:"platforms"`
}

// Distribution is one installed package: a wheel (with its RECORD in
// DistInfo), or an npm package (Path, Tarball, Integrity; its files are in
// the receipt's Manifest).
type Distribution struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Wheel   string `json:"wheel,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	// DistInfo is the installed .dist-info directory, relative to the release.
	DistInfo string `json:"dist_info,omitempty"`
	Files    int    `json:"files"`
	// Path is where the package is installed, relative to the release
	// (an npm lock's key: node_modules/a/node_modules/b); a package name
	// may be installed at several paths.
	Path string `json:"path,omitempty"`
	// Tarball is the file it was unpacked from, Integrity that file's
	// Subresource Integrity as the lock pins it, Resolved where the lock
	// says it comes from (credentials removed).
	Tarball   string `json:"tarball,omitempty"`
	Integrity string `json:"integrity,omitempty"`
	Resolved  string `json:"resolved,omitempty"`
	// Kind is where an npm package comes from: registry, remote, file,
	// link, bundled or folder; Link a link's target.
	Kind string `json:"kind,omitempty"`
	Link string `json:"link,omitempty"`
	// Dev and Optional are the lock's flags.
	Dev      bool `json:"dev,omitempty"`
	Optional bool `json:"optional,omitempty"`
	// PURL is the package's Package URL when it is not pkg:pypi.
	PURL string `json:"purl,omitempty"`
	// DependsOn are the Paths of the distributions it depends on, when
	// the lock says (else the SBOM reads RequiresDist).
	DependsOn []string `json:"depends_on,omitempty"`
	// RecordSHA256 is the sha256 of the installed RECORD (schema 2).
	RecordSHA256 string `json:"record_sha256,omitempty"`
	// Summary and License come from METADATA, for the SBOM.
	Summary      string   `json:"summary,omitempty"`
	License      string   `json:"license,omitempty"`
	RequiresDist []string `json:"requires_dist,omitempty"`
}

// EnvFile is one file of the environment skeleton.
type EnvFile struct {
	Path string `json:"path"`
	// Link is the target of a symlink; SHA256 the content hash of a file.
	Link   string `json:"link,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Read loads the receipt of a release directory.
func Read(releaseDir string) (*Receipt, error) {
	p := filepath.Join(releaseDir, FileName)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read receipt: %w", err)
	}
	return Parse(p, data)
}

// SchemaError is a receipt of a schema this pipbake does not read.
type SchemaError struct {
	Path   string
	Schema int
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("receipt %s has schema %d; this pipbake reads schemas 1 and %d", e.Path, e.Schema, Schema)
}

// Parse decodes the receipt data read from path (named in errors).
func Parse(path string, data []byte) (*Receipt, error) {
	var r Receipt
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parse receipt %s: %w", path, err)
	}
	if !Readable(r.Schema) {
		return nil, &SchemaError{Path: path, Schema: r.Schema}
	}
	return &r, nil
}

// Marshal renders the receipt as indented JSON.
func (r *Receipt) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// WriteFile writes data to dir/name durably: a temporary file, fsync,
// rename, directory fsync. Readers see the old file or the new one.
func WriteFile(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
