package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// ReceiptFile is one set's receipt as the provisioner's receipt_output (or
// `pipbake install --receipts-dir`) writes it: DIR/<set>.json.
type ReceiptFile struct {
	Path    string
	SHA256  string // of the file's bytes
	Receipt receipt.Receipt
}

// ReadReceipts reads every <set>.json receipt in dir (SBOMs, *.cdx.json,
// are skipped), sorted by set name.
func ReadReceipts(dir string) ([]ReceiptFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read receipts: %w", err)
	}
	var out []ReceiptFile
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".cdx.json") || strings.HasPrefix(n, ".") {
			continue
		}
		p := filepath.Join(dir, n)
		rf, err := ReadReceiptFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, rf)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read receipts: no <set>.json receipt in %s", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Receipt.Set < out[j].Receipt.Set })
	return out, nil
}

// FromReceipts makes the release of one bake of family from its receipts.
// The release id is the receipts' (they must agree) unless releaseID is
// given.
func FromReceipts(family, releaseID string, files []ReceiptFile) (Release, error) {
	if len(files) == 0 {
		return Release{}, fmt.Errorf("no receipts")
	}
	fs := append([]ReceiptFile(nil), files...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Receipt.Set < fs[j].Receipt.Set })
	var sets []SetVersion
	var locks, receipts strings.Builder
	seen := map[string]bool{}
	explicit := releaseID != ""
	for _, f := range fs {
		rc := f.Receipt
		if seen[rc.Set] {
			return Release{}, fmt.Errorf("two receipts for set %q (%s)", rc.Set, f.Path)
		}
		seen[rc.Set] = true
		if !explicit {
			if releaseID == "" {
				releaseID = rc.Release
			} else if rc.Release != releaseID {
				return Release{}, fmt.Errorf("receipts disagree on the release: %s has %q, %s has %q; set the release explicitly", fs[0].Path, releaseID, f.Path, rc.Release)
			}
		}
		sets = append(sets, SetVersion{Name: rc.Set, Version: setVersion(rc)})
		fmt.Fprintf(&locks, "%s  %s\n", rc.Lock.SHA256, rc.Set)
		fmt.Fprintf(&receipts, "%s  %s.json\n", f.SHA256, rc.Set)
	}
	r := Release{Family: family, Release: releaseID, Sets: FormatSets(sets)}
	if len(fs) == 1 {
		r.LockSHA256, r.ReceiptSHA256 = fs[0].Receipt.Lock.SHA256, fs[0].SHA256
	} else {
		r.LockSHA256, r.ReceiptSHA256 = sha256Hex(locks.String()), sha256Hex(receipts.String())
	}
	return r, r.Validate()
}

// setVersion is the version of the distribution named like the set (a
// Node set's app tarball, the set's own code, first), else the set's
// release id.
func setVersion(rc receipt.Receipt) string {
	if rc.App != nil && rc.App.File != "" && rc.App.Version != "" {
		return rc.App.Version
	}
	want := pyname.Normalize(rc.Set)
	for _, d := range rc.Distributions {
		if pyname.Normalize(d.Name) == want {
			return d.Version
		}
	}
	return rc.Release
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
