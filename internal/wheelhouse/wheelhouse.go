// Package wheelhouse finds, in a folder of wheels, the file to install for
// each pin of a lock: the most preferred wheel for the target's tags.
//
// A wheelhouse is a folder of .whl files, optionally with a wheelhouse.json
// index written by `pipbake fetch` (Index), or a tar archive whose .whl
// entries are read where they lie (the bundle the Packer provisioner
// uploads: the machine never holds the wheels twice).
package wheelhouse

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/suggest"
	"github.com/pipbake/packer-plugin-pipbake/internal/tags"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// IndexName is the index file inside a wheelhouse.
const IndexName = "wheelhouse.json"

// Index is the content of wheelhouse.json.
type Index struct {
	Schema int     `json:"schema"`
	Wheels []Entry `json:"wheels"`
}

// Entry is one wheel of the index.
type Entry struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size,omitempty"`
	// Source is where the wheel came from, credentials removed.
	Source string `json:"source,omitempty"`
}

// Choice is the wheel chosen for a pin.
type Choice struct {
	Pin lock.Pin
	// Path is the wheel's file; in an archive, "archive:file", which only
	// House.OpenWheel opens.
	Path string
	Name wheel.Name
	// SHA256 is the hash the index recorded ("" without an index).
	SHA256 string
}

// House is an opened wheelhouse. Close it after every wheel opened from it.
type House struct {
	// Dir is the folder, or the tar archive.
	Dir   string
	files []wheel.Name
	index map[string]Entry // by file name
	arc   *archive         // when the wheelhouse is a tar archive
}

// Open lists the wheels of dir (from wheelhouse.json when present), or of
// the tar archive dir.
func Open(dir string) (*House, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if st, err := os.Stat(dir); err == nil && st.Mode().IsRegular() {
		return openArchive(dir)
	}
	h := &House{Dir: dir, index: map[string]Entry{}}
	data, err := os.ReadFile(filepath.Join(dir, IndexName))
	switch {
	case err == nil:
		idx, err := ParseIndex(data)
		if err != nil {
			return nil, fmt.Errorf("read wheelhouse index %s: %w", filepath.Join(dir, IndexName), err)
		}
		for _, e := range idx.Wheels {
			n, _ := wheel.ParseName(e.File) // ParseIndex checked it
			h.files = append(h.files, n)
			h.index[e.File] = e
		}
	case errors.Is(err, fs.ErrNotExist):
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("open wheelhouse: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".whl") {
				continue
			}
			n, err := wheel.ParseName(e.Name())
			if err != nil {
				continue // not ours to judge: a stray file is never chosen
			}
			h.files = append(h.files, n)
		}
	default:
		return nil, fmt.Errorf("open wheelhouse %s: %w", dir, err)
	}
	return h, nil
}

// ParseIndex reads the content of a wheelhouse.json: every entry's file
// must be a wheel file name (wheel.ParseName, so a plain name that stays
// in the folder), listed once.
func ParseIndex(data []byte) (Index, error) {
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return Index{}, err
	}
	seen := map[string]bool{}
	for i, e := range idx.Wheels {
		if _, err := wheel.ParseName(e.File); err != nil {
			return Index{}, fmt.Errorf("entry %d: %w", i+1, err)
		}
		if seen[e.File] {
			return Index{}, fmt.Errorf("entry %d: %s is listed twice", i+1, e.File)
		}
		seen[e.File] = true
	}
	return idx, nil
}

// JoinFile returns the path of file inside dir, for a file name that came
// from outside (a lock, an index page, a cache record): it refuses a
// name that is not one plain name (wheel.CheckFileName) or whose path
// would not be directly inside dir.
func JoinFile(dir, file string) (string, error) {
	if err := wheel.CheckFileName(file); err != nil {
		return "", err
	}
	p := filepath.Join(dir, file)
	if filepath.Dir(p) != filepath.Clean(dir) || filepath.Base(p) != file {
		return "", fmt.Errorf("file name %q does not stay inside %s", file, dir)
	}
	return p, nil
}

// OpenWheel opens a chosen wheel (wheel.Open's checks and options).
func (h *House) OpenWheel(c Choice, opts ...wheel.OpenOption) (*wheel.Wheel, error) {
	if h.arc != nil {
		return h.arc.open(c.Name.File, opts)
	}
	return wheel.Open(c.Path, opts...)
}

// Close releases an archive's mapping; wheels opened from it must be
// closed first. A folder has nothing to release.
func (h *House) Close() error {
	if h.arc == nil {
		return nil
	}
	return h.arc.close()
}

// Choose picks the best wheel for every pin, reporting every pin that has
// no file or no compatible file in one error.
func (h *House) Choose(pins []lock.Pin, supported []tags.Tag) ([]Choice, error) {
	rank := tags.Rank(supported)
	byName := map[string][]wheel.Name{}
	for _, n := range h.files {
		byName[n.Key()] = append(byName[n.Key()], n)
	}
	var out []Choice
	var problems []string
	var err error
	for _, pin := range pins {
		cands := ForPin(pin, byName[pyname.Normalize(pin.Name)])
		if len(cands) == 0 {
			var have []string
			for _, n := range byName[pyname.Normalize(pin.Name)] {
				have = append(have, n.File)
			}
			msg := fmt.Sprintf("%s==%s: no wheel in %s", pin.Name, pin.Version, h.Dir)
			if len(have) > 0 {
				msg += fmt.Sprintf(" (other versions there: %s)", strings.Join(have, ", "))
			} else {
				msg += suggest.Phrase(suggest.Projects(pin.Name, projects(byName)))
			}
			problems = append(problems, msg)
			continue
		}
		best, ok := Best(cands, rank)
		if !ok {
			var files []string
			for _, n := range cands {
				files = append(files, n.File)
			}
			sort.Strings(files)
			problems = append(problems, fmt.Sprintf("%s==%s: no wheel fits this interpreter; it needs one of the tags %s; the wheelhouse has %s",
				pin.Name, pin.Version, DescribeTags(supported), strings.Join(files, ", ")))
			continue
		}
		n := cands[best]
		var p string
		if h.arc != nil {
			p = h.Dir + ":" + n.File // for messages; open it with OpenWheel
		} else if p, err = JoinFile(h.Dir, n.File); err != nil {
			problems = append(problems, fmt.Sprintf("%s==%s: %v", pin.Name, pin.Version, err))
			continue
		}
		out = append(out, Choice{Pin: pin, Path: p, Name: n, SHA256: h.index[n.File].SHA256})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("choose wheels from %s:\n  %s", h.Dir, strings.Join(problems, "\n  "))
	}
	return out, nil
}

// projects are the names of the projects a wheelhouse has wheels of, as
// their files write them, sorted.
func projects(byName map[string][]wheel.Name) []string {
	out := make([]string, 0, len(byName))
	for _, ns := range byName {
		out = append(out, ns[0].Distribution)
	}
	sort.Strings(out)
	return out
}

// ForPin returns the wheels among names that are the pin's project and
// version and, for a pylock pin, one of the wheel files it lists.
func ForPin(pin lock.Pin, names []wheel.Name) []wheel.Name {
	allowed := map[string]bool{}
	for _, f := range pin.Wheels { // pylock lists the wheels it allows
		allowed[f.Name] = true
	}
	var out []wheel.Name
	for _, n := range names {
		if n.Matches(pin.Name, pin.Version) && (len(allowed) == 0 || allowed[n.File]) {
			out = append(out, n)
		}
	}
	return out
}

// Best returns the index in cands of the wheel to install for the ranked
// tags: the one whose best tag ranks highest, then the highest build
// number, then the first. ok is false when no wheel has a supported tag.
func Best(cands []wheel.Name, rank tags.Ranking) (best int, ok bool) {
	best, bestRank := -1, 0
	for i, n := range cands {
		r, fits := rank.Best(n.Tags())
		if !fits {
			continue
		}
		if best < 0 || r < bestRank || (r == bestRank && n.BuildNumber() > cands[best].BuildNumber()) {
			best, bestRank = i, r
		}
	}
	return best, best >= 0
}

// DescribeTags summarizes a list of supported tags for a message: the
// first few, and how many more.
func DescribeTags(supported []tags.Tag) string {
	const show = 4
	var parts []string
	for i, t := range supported {
		if i == show {
			break
		}
		parts = append(parts, t.String())
	}
	s := strings.Join(parts, ", ")
	if len(supported) > show {
		s += fmt.Sprintf(", ... %d more ending in %s", len(supported)-show, supported[len(supported)-1])
	}
	return s
}

// HashFile returns the hex sha256 of a file (what a lock's --hash pins)
// and its size.
func HashFile(p string) (sum string, size int64, err error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
