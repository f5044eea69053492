package inspect

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/install"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/mototest"
)

func TestMain(m *testing.M) { os.Exit(amazontest.Main(m)) }

// TestInspectRelease: a release installed by pipbake is read from its
// receipt and SBOM, named as a release folder or by its root.
func TestInspectRelease(t *testing.T) {
	python := corpustest.Python(t)
	work := t.TempDir()
	wh := filepath.Join(work, "wheels")
	os.MkdirAll(wh, 0o755)
	if _, err := hello.Build(wh); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(work, "hello.txt")
	os.WriteFile(lock, hello.Lock, 0o644)
	root := filepath.Join(work, "opt", "hello")
	if _, err := install.Run(context.Background(), install.Set{Name: "hello", Lock: lock, Python: python, Root: root},
		install.Options{Wheelhouse: wh, Release: "r7", Version: "test"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(root, "releases", "r7", receipt.FileName))
	for _, dir := range []string{filepath.Join(root, "releases", "r7"), root} {
		rep, err := Inspect(context.Background(), dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Kind != KindRelease || rep.Release != "r7" || len(rep.Sets) != 1 {
			t.Fatalf("%s: %+v", dir, rep)
		}
		s := rep.Sets[0]
		if s.Name != "hello" || s.Root != root || s.Pipbake != "test" || s.Lock == nil || s.Lock.SHA256 == "" || s.SBOMComponents != 1 ||
			len(s.Distributions) != 1 || s.Distributions[0].Name != "hello" || s.Distributions[0].Version != "0.1.0" {
			t.Errorf("%s: set %+v", dir, s)
		}
		if rep.ReceiptSHA256 != s.ReceiptSHA256 || s.ReceiptSHA256 != sha256hex(data) {
			t.Errorf("receipt sha256 %s, want %s", s.ReceiptSHA256, sha256hex(data))
		}
		if dir == root && !strings.Contains(strings.Join(rep.Notes, " "), "its current release is r7") {
			t.Errorf("notes %q", rep.Notes)
		}
	}
	if _, err := Inspect(context.Background(), work, Options{}); err == nil || !strings.Contains(err.Error(), "neither a release") {
		t.Errorf("a folder that is no release: %v", err)
	}
}

func sha256hex(data []byte) string {
	s := setFromReceipt(receipt.Receipt{}, data)
	return s.ReceiptSHA256
}

// TestInspectAMI: an AMI baked and tagged as a release (on moto) is read
// from its tags, and the report says that is all there is.
func TestInspectAMI(t *testing.T) {
	env := amazontest.New(t)
	id := env.Bake(t, "api-node", "2026.12.05", "x86_64")
	o := Options{AWS: amazon.Options{Region: amazontest.Region, Endpoint: env.Front.URL, MaxAttempts: 2,
		Credentials: credentials.NewStaticCredentialsProvider(mototest.AccessKey, mototest.SecretKey, "")}}
	rep, err := Inspect(context.Background(), id, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kind != KindAMI || rep.Digest != id || rep.Family != "api-node" || rep.Release != "2026.12.05" || rep.SetsTag != "api@2026.12.05" ||
		rep.LockSHA256 != strings.Repeat("a", 64) || rep.ReceiptSHA256 != strings.Repeat("b", 64) {
		t.Errorf("report %+v", rep)
	}
	if len(rep.Sets) != 1 || rep.Sets[0].Name != "api" || rep.Sets[0].Version != "2026.12.05" || rep.AMI == nil || rep.AMI.Architecture != "x86_64" {
		t.Errorf("sets %+v, ami %+v", rep.Sets, rep.AMI)
	}
	var out bytes.Buffer
	Print(&out, rep)
	if !strings.Contains(out.String(), "tags only") {
		t.Errorf("the output does not say it read tags only:\n%s", out.String())
	}
	if _, err := Inspect(context.Background(), "ami-0123456789abcdef0", o); err == nil || !strings.Contains(err.Error(), "ami-0123456789abcdef0") {
		t.Errorf("a missing AMI: %v", err)
	}
}
