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
	// Bytecode counts the .pyc files the native installer wrote (nil
	// without bytecode, or with pip).
	Bytecode    *Bytecode   `json:"bytecode,omitempty"`
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

// Bytecode counts the .pyc files of an install by where they came from:
// compiled by the interpreter, or copied from the bytecode cache.
type Bytecode struct {
	Compiled int `json:"compiled"`
	Cached   int `json:"cached"`
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

// Distribution is one installed wheel.
type Distribution struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Wheel   string `json:"wheel"`
	SHA256  string `json:"sha256"`
	// DistInfo is the installed .dist-info directory, relative to the release.
	DistInfo string `json:"dist_info"`
	Files    int    `json:"files"`
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
