package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

func TestTagsRoundTrip(t *testing.T) {
	r := Release{Family: "api-node", Release: "1.4", Sets: "api@1.4.2,worker@2.0.1", LockSHA256: "ab", ReceiptSHA256: "cd"}
	tags := r.Tags()
	if len(tags) != 5 || tags[TagFamily] != "api-node" || tags[TagSets] != "api@1.4.2,worker@2.0.1" {
		t.Fatalf("tags: %v", tags)
	}
	got, ok := FromTags(map[string]string{"Name": "x", TagFamily: "api-node", TagRelease: "1.4", TagSets: r.Sets, TagLockSHA256: "ab", TagReceiptSHA256: "cd"})
	if !ok || got != r {
		t.Fatalf("FromTags: %+v %v", got, ok)
	}
	if _, ok := FromTags(map[string]string{TagFamily: "api-node"}); ok {
		t.Error("an image without pipbake:release is not a release")
	}
	if len((Release{Family: "f", Release: "1"}).Tags()) != 2 {
		t.Error("empty values must be left out")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		r    Release
		want string
	}{
		{Release{Family: "api", Release: "1"}, ""},
		{Release{Family: "", Release: "1"}, "family"},
		{Release{Family: "-x", Release: "1"}, "must not start"},
		{Release{Family: "a b", Release: "1"}, "only letters"},
		{Release{Family: "api"}, "release id is empty"},
		{Release{Family: "api", Release: "1", Sets: strings.Repeat("x", 257)}, "more than AWS's 256"},
	} {
		err := tc.r.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
	}
}

func TestMergeLimit(t *testing.T) {
	existing := map[string]string{}
	for i := 0; i < 46; i++ {
		existing[string(rune('a'+i%26))+strings.Repeat("k", i)] = "v"
	}
	r := Release{Family: "f", Release: "1", Sets: "s@1", LockSHA256: "l", ReceiptSHA256: "r"}
	if _, err := r.Merge(existing); err == nil || !strings.Contains(err.Error(), "51 tags: AWS allows 50") {
		t.Errorf("46 + 5: %v", err)
	}
	existing[TagFamily] = "old" // replaced, not added
	delete(existing, "a")
	m, err := r.Merge(existing)
	if err != nil || len(m) != 50 || m[TagFamily] != "f" {
		t.Errorf("45 + 5 with one replaced: %d %v", len(m), err)
	}
}

func TestFormatSets(t *testing.T) {
	if got := FormatSets([]SetVersion{{"worker", "2.0.1"}, {"api", "1.4.2"}}); got != "api@1.4.2,worker@2.0.1" {
		t.Errorf("got %q", got)
	}
	var many []SetVersion
	for i := 0; i < 40; i++ {
		many = append(many, SetVersion{Name: "service-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26)), Version: "10.20.30"})
	}
	got := FormatSets(many)
	if len(got) > MaxTagValue || !strings.Contains(got, ",+") {
		t.Fatalf("cut: %d %q", len(got), got)
	}
	parsed := ParseSets(got)
	var rest int
	if _, err := fmt.Sscanf(got[strings.LastIndex(got, "+")+1:], "%d", &rest); err != nil || len(parsed)+rest != 40 {
		t.Errorf("parsed %d + %d left out, want 40: %q", len(parsed), rest, got)
	}
	if p := ParseSets("api@1,b@2"); !slices.Equal(p, []SetVersion{{"api", "1"}, {"b", "2"}}) {
		t.Errorf("parse: %v", p)
	}
}

func TestCompare(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if Compare("9", t0, "10", t0) != -1 || Compare("1.10", t0, "1.9", t0) != 1 {
		t.Error("release ids compare naturally")
	}
	if Compare("3", t0.Add(time.Hour), "3", t0) != 1 || Compare("3", t0, "3", t0) != 0 {
		t.Error("equal ids compare by creation date")
	}
	if Compare("2", t0.Add(time.Hour), "3", t0) != -1 {
		t.Error("the release id wins over the date")
	}
}

func writeReceipt(t *testing.T, dir, set, release, lockSHA string, dists ...receipt.Distribution) string {
	t.Helper()
	rc := receipt.Receipt{Schema: receipt.Schema, Set: set, Release: release, Lock: receipt.Lock{SHA256: lockSHA}, Distributions: dists}
	data, err := rc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, set+".json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, set+".cdx.json"), []byte("{}"), 0o644)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestFromReceipts(t *testing.T) {
	dir := t.TempDir()
	apiSum := writeReceipt(t, dir, "api", "7", "aaaa", receipt.Distribution{Name: "Flask", Version: "3.1.3"}, receipt.Distribution{Name: "API", Version: "1.4.2"})
	files, err := ReadReceipts(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("read: %v %d", err, len(files))
	}
	r, err := FromReceipts("api-node", "", files)
	if err != nil {
		t.Fatal(err)
	}
	want := Release{Family: "api-node", Release: "7", Sets: "api@1.4.2", LockSHA256: "aaaa", ReceiptSHA256: apiSum}
	if r != want {
		t.Fatalf("one set: %+v\nwant %+v", r, want)
	}

	workerSum := writeReceipt(t, dir, "worker", "7", "bbbb")
	files, _ = ReadReceipts(dir)
	r, err = FromReceipts("api-node", "", files)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sets != "api@1.4.2,worker@7" {
		t.Errorf("sets: %q (a set without its own distribution gets its release id)", r.Sets)
	}
	if r.LockSHA256 != sha256Hex("aaaa  api\nbbbb  worker\n") || r.ReceiptSHA256 != sha256Hex(apiSum+"  api.json\n"+workerSum+"  worker.json\n") {
		t.Errorf("manifest hashes: %+v", r)
	}
	if r, err := FromReceipts("api-node", "hotfix.1", files); err != nil || r.Release != "hotfix.1" {
		t.Errorf("explicit release: %+v %v", r, err)
	}

	writeReceipt(t, dir, "worker", "8", "bbbb")
	files, _ = ReadReceipts(dir)
	if _, err := FromReceipts("api-node", "", files); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("disagreeing releases: %v", err)
	}
	if _, err := ReadReceipts(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no <set>.json receipt") {
		t.Errorf("empty folder: %v", err)
	}
}

// TestSetVersionNode: a Node set's version is its app's (the project its
// lock describes, unpacked from its npm pack tarball), whatever the
// project is called; without an app, a package named like the set, else
// the release id.
func TestSetVersionNode(t *testing.T) {
	rc := receipt.Receipt{Set: "web", Release: "r1", Ecosystem: receipt.EcosystemNode,
		App:           &receipt.App{Name: "shop-frontend", Version: "2.3.0", File: "shop-frontend-2.3.0.tgz"},
		Distributions: []receipt.Distribution{{Name: "express", Version: "4.21.2"}}}
	if v := setVersion(rc); v != "2.3.0" {
		t.Errorf("with an app: %q", v)
	}
	rc.App = nil
	if v := setVersion(rc); v != "r1" {
		t.Errorf("without an app: %q", v)
	}
	rc.Distributions = append(rc.Distributions, receipt.Distribution{Name: "web", Version: "0.9.0"})
	if v := setVersion(rc); v != "0.9.0" {
		t.Errorf("a package named like the set: %q", v)
	}
}
