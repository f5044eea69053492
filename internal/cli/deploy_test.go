//go:build !pipbake_agent

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// TestNewCommandsHelp: -h says what the command does in one line, its
// forms and an example, and exits 0.
func TestNewCommandsHelp(t *testing.T) {
	for _, cmd := range []string{"revoke", "unrevoke", "diff"} {
		help, _, code := captured(t, cmd, "-h")
		lines := strings.Split(help, "\n")
		if code != 0 || !strings.HasPrefix(lines[0], "pipbake "+cmd+": ") || !strings.Contains(help, "\nUsage:\n  pipbake "+cmd+" ") ||
			!strings.Contains(help, "\nExample:\n  pipbake "+cmd+" ") || !strings.Contains(help, "-json") {
			t.Errorf("%s -h: exit %d:\n%s", cmd, code, help)
		}
	}
}

func writeReceipts(t *testing.T, dir, rel string, dists ...string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	rc := receipt.Receipt{Schema: receipt.Schema, Set: "api", Release: rel, Lock: receipt.Lock{SHA256: strings.Repeat(rel, 64)[:64]}}
	for i := 0; i+1 < len(dists); i += 2 {
		rc.Distributions = append(rc.Distributions, receipt.Distribution{Name: dists[i], Version: dists[i+1]})
	}
	data, err := rc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "api.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDiffCommand: receipts offline (no AWS settings at all), AMIs by id
// and by release with the receipts of each release, checked against the
// image's tags, and --json.
func TestDiffCommand(t *testing.T) {
	dir := t.TempDir()
	r1, r2 := filepath.Join(dir, "1"), filepath.Join(dir, "2")
	writeReceipts(t, r1, "1", "api", "1.0", "flask", "3.1.2")
	writeReceipts(t, r2, "2", "api", "1.1", "flask", "3.1.3", "blinker", "1.9")

	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // nothing may be asked
	s := mustRun(t, "diff", r1, filepath.Join(r2, "api.json"))
	has(t, "diff of receipts", s, r1+" -> "+filepath.Join(r2, "api.json"), "~ api 1.0 -> 1.1", "+ blinker 1.9", "~ flask 3.1.2 -> 3.1.3", "locks:\n    ~ api ")
	s = mustRun(t, "diff", "--json", r1, r2)
	var doc struct {
		Diff catalog.Diff  `json:"diff"`
		From catalog.Facts `json:"from"`
	}
	if err := json.Unmarshal([]byte(s), &doc); err != nil || len(doc.Diff.Distributions) != 3 || doc.From.Sources[0] != "receipts" {
		t.Errorf("diff --json: %v\n%s", err, s)
	}

	e := amazontest.New(t)
	awsEnv(t, e)
	family := amazontest.Unique("diff")
	ami := map[string]string{}
	for _, r := range []string{"1", "2"} {
		files, err := catalog.ReadReceipts(filepath.Join(dir, r))
		if err != nil {
			t.Fatal(err)
		}
		rel, err := catalog.FromReceipts(family, "", files)
		if err != nil {
			t.Fatal(err)
		}
		ami[r] = e.Image(t, "x86_64")
		if _, err := e.Catalog.TagRelease(t.Context(), ami[r], rel); err != nil {
			t.Fatal(err)
		}
	}
	s = mustRun(t, "diff", ami["1"], ami["2"])
	has(t, "diff of AMIs", s, family+"@1 ("+ami["1"]+") -> "+family+"@2 ("+ami["2"]+")", "~ api 1.0 -> 1.1", "~ locks ", "unknown: distributions: only tags are known")
	s = mustRun(t, "diff", "--family", family, "1", "2", "--receipts", dir)
	has(t, "diff of releases with receipts", s, "~ flask 3.1.2 -> 3.1.3", "+ blinker 1.9")
	if strings.Contains(s, "unknown") {
		t.Errorf("the receipts are the releases': nothing is unknown:\n%s", s)
	}
	// The receipts of another release are not used.
	os.Rename(r1, filepath.Join(dir, "x"))
	os.Rename(r2, r1)
	s = mustRun(t, "diff", "--family", family, "1", "2", "--receipts", dir)
	has(t, "mismatched receipts", s, "receipts "+r1+" not used: their sha256", "no receipts of release 2 in "+dir)
}

// TestSeveralGroups: --asg twice and --asg-tag: one plan, applied group by
// group; the first failure stops it with what was done and how to go on.
func TestSeveralGroups(t *testing.T) {
	e := amazontest.New(t)
	awsEnv(t, e)
	family := amazontest.Unique("multi")
	ami := map[string]string{}
	for _, r := range []string{"1", "2"} {
		ami[r] = e.Bake(t, family, r, "x86_64")
	}
	var groups []string
	for i := 0; i < 3; i++ {
		lt := e.Template(t, amazontest.Unique("lt"), ami["1"])
		g := amazontest.Unique("web")
		e.Group(t, g, lt, "1", 1)
		_, err := e.ASG.CreateOrUpdateTags(t.Context(), &autoscaling.CreateOrUpdateTagsInput{Tags: []astypes.Tag{{ResourceId: aws.String(g),
			ResourceType: aws.String("auto-scaling-group"), Key: aws.String("pipbake:family"), Value: aws.String(family)}}})
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, g)
	}
	s := mustRun(t, "promote", "--asg", groups[0], "--asg", groups[1], "--release", "2", "--dry-run")
	has(t, "two groups --dry-run", s, "promote 2 autoscaling groups in us-east-1, one after another, stopping at the first failure: "+groups[0]+", "+groups[1],
		"[1/2] promote autoscaling group "+groups[0], "[2/2] promote autoscaling group "+groups[1], "dry run: nothing was changed")
	s = mustRun(t, "promote", "--asg", groups[0], "--asg", groups[1], "--release", "2", "--dry-run", "--json")
	has(t, "two groups --json", s, `"plans": [`)

	e.Front.SetOutcome("Failed", "Instances failed to pass health checks.")
	_, code, err := pipbake(t, "promote", "--asg-tag", "pipbake:family="+family, "--release", "2", "--wait")
	if code != 1 || err == nil {
		t.Fatalf("want a failure, got exit %d", code)
	}
	msg := err.Error()
	first := firstSorted(groups)
	for _, want := range []string{"group " + first + ": wait for start an instance refresh", "failed and AWS rolled it back: Instances failed to pass health checks.", "groups done: none", "groups not started: ", "to continue with the rest: once " + first + " is sorted out, `pipbake promote --asg "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	e.Front.SetOutcome("Successful", "")
	s = mustRun(t, "promote", "--asg-tag", "pipbake:family="+family, "--release", "2", "--wait")
	for _, g := range groups {
		has(t, "promote --asg-tag", s, "promote: group "+g+" launches version ")
		if _, im := e.GroupImage(t, g); im != ami["2"] {
			t.Errorf("group %s launches %s, want %s", g, im, ami["2"])
		}
	}
}

func firstSorted(s []string) string {
	f := s[0]
	for _, v := range s[1:] {
		if v < f {
			f = v
		}
	}
	return f
}
