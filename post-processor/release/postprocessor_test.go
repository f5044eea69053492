package release

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

func TestMain(m *testing.M) { os.Exit(amazontest.Main(m)) }

func TestConfigureReportsEveryProblem(t *testing.T) {
	var p PostProcessor
	err := p.Configure(map[string]interface{}{"max_attempts": -1})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"family: required", "receipts_dir: required unless release is given", "max_attempts: must not be negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if err := new(PostProcessor).Configure(map[string]interface{}{"family": "-bad", "release": "1"}); err == nil || !strings.Contains(err.Error(), "must not start with") {
		t.Errorf("bad family: %v", err)
	}
	if err := new(PostProcessor).Configure(map[string]interface{}{"family": "api", "receipts_dir": "r"}); err != nil {
		t.Errorf("good: %v", err)
	}
}

func TestParseArtifactID(t *testing.T) {
	got, err := ParseArtifactID("us-east-1:ami-0abc123,eu-west-2:ami-0def456")
	if err != nil || len(got) != 2 || got[1] != (Image{"eu-west-2", "ami-0def456"}) {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "sha256:abcd", "us-east-1:snap-1", "/tmp/output"} {
		if _, err := ParseArtifactID(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// artifact is an amazon builder's artifact as Packer hands it over.
type artifact struct{ id string }

func (a artifact) BuilderId() string             { return "mitchellh.amazonebs" }
func (a artifact) Files() []string               { return nil }
func (a artifact) Id() string                    { return a.id }
func (a artifact) String() string                { return "AMIs were created: " + a.id }
func (a artifact) State(name string) interface{} { return nil }
func (a artifact) Destroy() error                { return nil }

func TestPostProcessTagsImagesAndSnapshots(t *testing.T) {
	e := amazontest.New(t)
	for _, kv := range e.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_PROFILE", "")
	dir := t.TempDir()
	rc := receipt.Receipt{Schema: receipt.Schema, Set: "api", Release: "7", Lock: receipt.Lock{SHA256: strings.Repeat("c", 64)},
		Distributions: []receipt.Distribution{{Name: "api", Version: "1.4.2"}}}
	data, _ := rc.Marshal()
	os.WriteFile(filepath.Join(dir, "api.json"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "api.cdx.json"), []byte("{}"), 0o644)

	ami := e.Image(t, "x86_64")
	var p PostProcessor
	if err := p.Configure(map[string]interface{}{"family": "api-node", "receipts_dir": dir}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ui := &packersdk.BasicUi{Writer: &out, ErrorWriter: &out}
	a, keep, force, err := p.PostProcess(context.Background(), ui, artifact{amazontest.Region + ":" + ami})
	if err != nil || !keep || force || a.Id() != amazontest.Region+":"+ami {
		t.Fatalf("%v %v %v %v", a, keep, force, err)
	}
	im, err := e.Catalog.Image(context.Background(), ami)
	if err != nil {
		t.Fatal(err)
	}
	want := catalog.Release{Family: "api-node", Release: "7", Sets: "api@1.4.2", LockSHA256: strings.Repeat("c", 64)}
	if im.Release.ReceiptSHA256 == "" || im.Release.Family != want.Family || im.Release.Release != want.Release || im.Release.Sets != want.Sets || im.Release.LockSHA256 != want.LockSHA256 {
		t.Errorf("tags: %+v", im.Release)
	}
	if !strings.Contains(out.String(), "tagging 1 image(s) as api-node@7 (sets api@1.4.2)") || !strings.Contains(out.String(), im.Snapshots[0]) {
		t.Errorf("ui:\n%s", out.String())
	}

	// Not an AMI artifact; a missing image.
	if _, _, _, err := p.PostProcess(context.Background(), ui, artifact{"/tmp/out.tar"}); err == nil || !strings.Contains(err.Error(), "takes AMIs from an amazon builder") {
		t.Errorf("file artifact: %v", err)
	}
	if _, _, _, err := p.PostProcess(context.Background(), ui, artifact{amazontest.Region + ":ami-00000000dead"}); err == nil || !strings.Contains(err.Error(), "image not found") {
		t.Errorf("missing image: %v", err)
	}
}
