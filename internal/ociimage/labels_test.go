package ociimage_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

// labelsAndTags writes the receipts to a folder as receipt_output does and
// returns the image's labels of them and the catalog's tags of the same
// files (catalog.ReadReceipts, catalog.FromReceipts).
func labelsAndTags(t *testing.T, family string, receipts map[string][]byte) (labels, tags map[string]string) {
	t.Helper()
	dir := t.TempDir()
	var sets []ociimage.SetReceipt
	for set, data := range receipts {
		if err := os.WriteFile(filepath.Join(dir, set+".json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sets = append(sets, mustReceipt(t, data))
	}
	labels, err := ociimage.Labels(family, "", sets)
	if err != nil {
		t.Fatal(err)
	}
	files, err := catalog.ReadReceipts(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := catalog.FromReceipts(family, "", files)
	if err != nil {
		t.Fatal(err)
	}
	return labels, r.Tags()
}

func TestLabelsAreTheCatalogsTags(t *testing.T) {
	one := map[string][]byte{"hello": receiptJSON("hello", "r1", strings.Repeat("a", 64))}
	labels, tags := labelsAndTags(t, "web", one)
	if !maps.Equal(labels, tags) {
		t.Errorf("one set: labels %v\ncatalog's tags %v", labels, tags)
	}
	if labels[ociimage.LabelSets] != "hello@1.2.3" || labels[ociimage.LabelLockSHA256] != strings.Repeat("a", 64) || labels[ociimage.LabelFamily] != "web" {
		t.Errorf("one set: %v", labels)
	}

	two := map[string][]byte{
		"hello": receiptJSON("hello", "r1", strings.Repeat("a", 64)),
		"api":   receiptJSON("api", "r1", strings.Repeat("b", 64)),
	}
	labels, tags = labelsAndTags(t, "web", two)
	if !maps.Equal(labels, tags) {
		t.Errorf("two sets: labels %v\ncatalog's tags %v", labels, tags)
	}
	if labels[ociimage.LabelSets] != "api@1.2.3,hello@1.2.3" || labels[ociimage.LabelRelease] != "r1" {
		t.Errorf("two sets: %v", labels)
	}

	// More sets than fit a tag value: cut at a set, ending ",+N", as the
	// catalog cuts them.
	many := map[string][]byte{}
	for i := 0; i < 40; i++ {
		set := fmt.Sprintf("service-%02d-%s", i, strings.Repeat("x", 10))
		many[set] = receiptJSON(set, "r1", strings.Repeat("c", 64))
	}
	labels, tags = labelsAndTags(t, "web", many)
	if !maps.Equal(labels, tags) {
		t.Errorf("40 sets: labels %v\ncatalog's tags %v", labels, tags)
	}
	sets := labels[ociimage.LabelSets]
	if len(sets) > catalog.MaxTagValue || !strings.HasPrefix(sets, "service-00-xxxxxxxxxx@1.2.3,") || !strings.Contains(sets, ",+") {
		t.Errorf("40 sets: pipbake:sets of %d characters, not cut to %d: %q", len(sets), catalog.MaxTagValue, sets)
	}
	if n := len(catalog.ParseSets(sets)); n == 0 || n >= 40 || !strings.HasSuffix(sets, fmt.Sprintf(",+%d", 40-n)) {
		t.Errorf("40 sets: %d listed in %q", n, sets)
	}
}

func TestLabelsRefuseWhatTheCatalogRefuses(t *testing.T) {
	r1 := mustReceipt(t, receiptJSON("hello", "r1", strings.Repeat("a", 64)))
	r2 := mustReceipt(t, receiptJSON("api", "r2", strings.Repeat("b", 64)))
	if _, err := ociimage.Labels("web", "", []ociimage.SetReceipt{r1, r2}); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("disagreeing releases: %v", err)
	}
	if l, err := ociimage.Labels("web", "hotfix.1", []ociimage.SetReceipt{r1, r2}); err != nil || l[ociimage.LabelRelease] != "hotfix.1" {
		t.Errorf("explicit release: %v %v", l, err)
	}
	if _, err := ociimage.Labels("not a family", "", []ociimage.SetReceipt{r1}); err == nil || !strings.Contains(err.Error(), "family") {
		t.Errorf("bad family: %v", err)
	}
	if _, err := ociimage.Labels("web", "", nil); err == nil {
		t.Error("no receipts: no error")
	}
}
