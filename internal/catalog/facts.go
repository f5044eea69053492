package catalog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// Facts are what is known of one release, for a diff. Tags (an AMI's, an
// OCI image's labels and annotations) give the sets and their versions,
// the sha256 of the locks and receipts, and the base; receipts (files the
// provisioner brought back, or those inside an OCI image's layers) give
// each set's distributions, lock and interpreter too. Sources says which
// were read.
type Facts struct {
	Label   string     `json:"label"`
	Sources []string   `json:"sources"`
	Release Release    `json:"release"`
	Sets    []SetFacts `json:"sets"`
	// SetsCut counts sets a cut pipbake:sets left out (",+N").
	SetsCut int `json:"sets_cut,omitempty"`
	// Notes say what is not known, or why a source was not used.
	Notes []string `json:"notes,omitempty"`
}

// SetFacts are one set's facts. Distributions is nil when unknown (tags
// only).
type SetFacts struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	LockSHA256    string `json:"lock_sha256,omitempty"`
	Interpreter   string `json:"interpreter,omitempty"`
	Distributions []Dist `json:"distributions,omitempty"`
	// Known is set when Distributions come from a receipt.
	Known bool `json:"distributions_known"`
}

// Dist is one installed distribution.
type Dist struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// FactsFromTags reads the facts tags give.
func FactsFromTags(label string, r Release) Facts {
	f := Facts{Label: label, Sources: []string{"tags"}, Release: r}
	for _, sv := range ParseSets(r.Sets) {
		f.Sets = append(f.Sets, SetFacts{Name: sv.Name, Version: sv.Version})
	}
	if i := strings.LastIndex(r.Sets, ",+"); i >= 0 || strings.HasPrefix(r.Sets, "+") {
		var n int
		fmt.Sscanf(r.Sets[i+1:], "+%d", &n)
		f.SetsCut = n
	}
	sortSets(f.Sets)
	return f
}

// FactsFromReceipts makes the facts of one bake from its receipts (family
// may be empty).
func FactsFromReceipts(label, family string, files []ReceiptFile) (Facts, error) {
	if len(files) == 0 {
		return Facts{}, fmt.Errorf("%s: no receipts", label)
	}
	f := Facts{Label: label, Sources: []string{"receipts"}}
	fam := family
	if fam == "" {
		fam = "receipts" // FromReceipts needs a valid family; it is not shown
	}
	r, err := FromReceipts(fam, "", files)
	if err != nil {
		return Facts{}, fmt.Errorf("%s: %w", label, err)
	}
	r.Family = family
	f.Release = r
	for _, rf := range files {
		f.Sets = append(f.Sets, setFromReceipt(rf.Receipt))
	}
	sortSets(f.Sets)
	return f, nil
}

func setFromReceipt(rc receipt.Receipt) SetFacts {
	s := SetFacts{Name: rc.Set, Version: setVersion(rc), LockSHA256: rc.Lock.SHA256, Known: true, Distributions: []Dist{}}
	in := rc.Interpreter
	s.Interpreter = strings.TrimSpace(fmt.Sprintf("%s %s %s", in.Implementation, in.Version, in.Platform))
	for _, d := range rc.Distributions {
		s.Distributions = append(s.Distributions, Dist{Name: d.Name, Version: d.Version})
	}
	sort.Slice(s.Distributions, func(i, j int) bool {
		return pyname.Normalize(s.Distributions[i].Name) < pyname.Normalize(s.Distributions[j].Name)
	})
	return s
}

// WithReceipts adds receipts to facts read from tags, when they are the
// receipts of that release: their sha256 (one receipt's, or the manifest
// of several) must be the tags' pipbake:receipt-sha256. Receipts that do
// not match are not used, and a note says so.
func (f Facts) WithReceipts(where string, files []ReceiptFile) Facts {
	rf, err := FactsFromReceipts(where, f.Release.Family, files)
	if err != nil {
		f.Notes = append(f.Notes, fmt.Sprintf("receipts %s not used: %v", where, err))
		return f
	}
	if f.Release.ReceiptSHA256 == "" {
		f.Notes = append(f.Notes, fmt.Sprintf("receipts %s not used: %s has no %s tag to check them against", where, f.Label, TagReceiptSHA256))
		return f
	}
	if rf.Release.ReceiptSHA256 != f.Release.ReceiptSHA256 {
		f.Notes = append(f.Notes, fmt.Sprintf("receipts %s not used: their sha256 %s is not %s's %s %s", where, short(rf.Release.ReceiptSHA256), f.Label, TagReceiptSHA256, short(f.Release.ReceiptSHA256)))
		return f
	}
	f.Sources = append(f.Sources, "receipts "+where)
	f.Sets, f.SetsCut = rf.Sets, 0
	return f
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func sortSets(s []SetFacts) {
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
}

// ReadReceiptFile reads one <set>.json receipt file.
func ReadReceiptFile(path string) (ReceiptFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ReceiptFile{}, fmt.Errorf("read receipt: %w", err)
	}
	return ParseReceiptFile(path, data)
}

// ParseReceiptFile reads a receipt's bytes; path names it in errors.
func ParseReceiptFile(path string, data []byte) (ReceiptFile, error) {
	var rc receipt.Receipt
	if err := json.Unmarshal(data, &rc); err != nil {
		return ReceiptFile{}, fmt.Errorf("parse receipt %s: %w", path, err)
	}
	if !receipt.Readable(rc.Schema) {
		return ReceiptFile{}, &receipt.SchemaError{Path: path, Schema: rc.Schema}
	}
	if rc.Set == "" || rc.Release == "" {
		return ReceiptFile{}, fmt.Errorf("receipt %s names no set or release", path)
	}
	return ReceiptFile{Path: path, SHA256: sha256Hex(string(data)), Receipt: rc}, nil
}

// ReleaseReceipts is the folder of a release's receipts in a folder of
// receipts per release: root/<release>. A release id that is not one
// plain path element (from a hostile tag: "..", "a/b") is an error.
func ReleaseReceipts(root, release string) (string, error) {
	if release == "" || release == "." || release == ".." || strings.ContainsAny(release, `/\`) || !filepath.IsLocal(release) {
		return "", fmt.Errorf("release id %q cannot name a receipts folder", release)
	}
	return filepath.Join(root, release), nil
}
