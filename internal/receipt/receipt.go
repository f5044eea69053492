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

// Schema is the receipt format version.
const Schema = 1

// Names of the files written into each release.
const (
	FileName = "pipbake-receipt.json"
	SBOMName = "pipbake-sbom.cdx.json"
)

// Receipt describes one installed package set.
type Receipt struct {
	Schema      int         `json:"schema"`
	Set         string      `json:"set"`
	Release     string      `json:"release"`
	Created     time.Time   `json:"created"`
	Pipbake     string      `json:"pipbake"`
	Installer   string      `json:"installer"`
	Compiled    bool        `json:"compiled"`
	Lock        Lock        `json:"lock"`
	Interpreter Interpreter `json:"interpreter"`
	// Distributions are the installed wheels, sorted by name.
	Distributions []Distribution `json:"distributions"`
	// Environment lists the virtual environment's own files (pyvenv.cfg,
	// interpreter links, activate scripts), relative to the release.
	Environment []EnvFile `json:"environment"`
	// Files counts every file and link in the release, receipt and SBOM
	// excluded.
	Files int `json:"files"`
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
	var r Receipt
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parse receipt %s: %w", p, err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("receipt %s has schema %d; this pipbake reads schema %d", p, r.Schema, Schema)
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
