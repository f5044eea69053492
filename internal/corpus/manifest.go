package corpus

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// manifestVersion changes whenever the repacking logic changes what it
// writes, so wheels from an older version are rebuilt rather than reused.
const manifestVersion = 1

// manifest records, per .dist-info directory, which wheel was built from
// which inputs. It lives in <cache dir>/manifest.json.
type manifest struct {
	Version int                      `json:"version"`
	Python  string                   `json:"python"`
	Entries map[string]manifestEntry `json:"entries"`
}

type manifestEntry struct {
	// RecordSHA256 is the hex sha256 of the distribution's RECORD.
	RecordSHA256 string `json:"record_sha256"`
	// Inputs is a hex sha256 over RECORD, the repacking logic version and
	// the path, size, mode and modification time of every packed file: a
	// file can change after installation without RECORD changing (a .pth
	// hook rewrites certifi's cacert.pem, for one).
	Inputs  string `json:"inputs"`
	Name    string `json:"name"`
	Version string `json:"version"`
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
}

// loadManifest returns the cache's manifest, or an empty one when there is
// none, it cannot be read, or it was written for another interpreter or
// manifest version: a bad manifest only costs a rebuild.
func loadManifest(dir, python string) manifest {
	empty := manifest{Version: manifestVersion, Python: python, Entries: map[string]manifestEntry{}}
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return empty
	}
	var m manifest
	if json.Unmarshal(data, &m) != nil || m.Version != manifestVersion || m.Python != python || m.Entries == nil {
		return empty
	}
	return m
}

// save writes the manifest atomically.
func (m manifest) save(dir string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("save manifest: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, "manifest.json"), append(data, '\n'))
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place, so readers never see a partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
