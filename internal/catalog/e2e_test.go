package catalog_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/sshtarget"
)

func TestMain(m *testing.M) { os.Exit(amazontest.Main(m)) }

// amazonPlugin finds packer-plugin-amazon as .ci/tools.sh builds it
// (PIPBAKE_TOOLS=amazon).
func amazonPlugin(t *testing.T) string {
	p := os.Getenv("PIPBAKE_PACKER_PLUGIN_AMAZON")
	if p == "" {
		p = filepath.Join(packertest.CacheDir(), "tools", "bin", "packer-plugin-amazon")
	}
	if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
		msg := fmt.Sprintf("no packer-plugin-amazon at %s: run PIPBAKE_TOOLS=amazon .ci/tools.sh, or set PIPBAKE_PACKER_PLUGIN_AMAZON", p)
		if packertest.Required() {
			t.Fatal(msg + " (PIPBAKE_E2E_REQUIRED is set)")
		}
		t.Skip(msg)
	}
	return p
}

// TestBakePromoteRollBackPrune is the whole pipeline, offline: Packer's
// real amazon-ebs builder against moto_server (the instance it launches is
// stood in for by a loopback sshd on this host), the pipbake provisioner
// installing the hello set into a root under a temp dir, pipbake-release
// tagging the AMI and its snapshot; three releases baked that way; a group
// on release 1, promoted to 3, rolled back to 2 and to 1, then pruned with
// keep 1, which removes nothing in use. The pipbake command line is the
// plugin binary's agent mode (the same code as cmd/pipbake).
func TestBakePromoteRollBackPrune(t *testing.T) {
	e := amazontest.New(t)
	amazonBin := amazonPlugin(t)
	srv := sshtarget.StartT(t, sshtarget.Options{})
	env := append(e.Environ(), "AWS_POLL_DELAY_SECONDS=1", "AWS_MAX_ATTEMPTS=3")
	p := packertest.New(t, packertest.Options{Env: env})
	p.InstallPlugin()
	p.Run("plugins", "install", "--path", amazonBin, "github.com/hashicorp/amazon").Must(t)

	work := t.TempDir()
	wheels := filepath.Join(work, "wheels")
	os.MkdirAll(wheels, 0o755)
	if _, err := hello.Build(wheels); err != nil {
		t.Fatal(err)
	}
	lock, err := filepath.Abs("../../examples/hello/requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	lockBytes, _ := os.ReadFile(lock)
	lockSum := sha256.Sum256(lockBytes)
	root := filepath.Join(work, "machine", "opt", "hello")
	tpl, err := filepath.Abs("testdata/aws-ami")
	if err != nil {
		t.Fatal(err)
	}
	family := amazontest.Unique("api-node")
	vars := func(rel, receipts string) []string {
		return []string{
			"-var", "source_ami=" + e.BaseAMI(t, "x86_64"), "-var", "family=" + family, "-var", "release=" + rel,
			"-var", "ssh_host=" + srv.Host, "-var", fmt.Sprintf("ssh_port=%d", srv.Port), "-var", "ssh_username=" + srv.User,
			"-var", "ssh_private_key_file=" + srv.PrivateKeyPath, "-var", "wheelhouse=" + wheels, "-var", "lock=" + lock,
			"-var", "root=" + root, "-var", "receipts=" + receipts,
		}
	}
	p.FmtCheck(tpl).Must(t)
	p.Init(tpl).Must(t)
	p.Validate(tpl, vars("1", work)...).Must(t)

	ami := map[string]string{}
	for _, rel := range []string{"1", "2", "3"} {
		receipts := filepath.Join(work, "receipts-"+rel)
		start := time.Now()
		r := p.Build(tpl, vars(rel, receipts)...).Must(t)
		t.Logf("release %s baked in %v", rel, time.Since(start).Round(time.Millisecond))
		if !strings.Contains(r.Output, "pipbake-release: tagging 1 image(s) as "+family+"@"+rel+" (sets hello@0.1.0)") {
			t.Errorf("release %s: the post-processor did not report its tags", rel)
		}
		// The bake landed in the root, as release rel.
		if cur, _ := os.Readlink(filepath.Join(root, "current")); cur != "releases/"+rel {
			t.Fatalf("after baking %s, current -> %q", rel, cur)
		}
		data, err := os.ReadFile(filepath.Join(receipts, "hello.json"))
		if err != nil {
			t.Fatal(err)
		}
		receiptSum := sha256.Sum256(data)

		list, err := e.Catalog.Images(context.Background(), family)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 || list[len(list)-1].Release.Release != rel {
			t.Fatalf("after baking %s the catalog has %+v", rel, list)
		}
		im := list[len(list)-1]
		want := catalog.Release{Family: family, Release: rel, Sets: "hello@0.1.0", LockSHA256: hex.EncodeToString(lockSum[:]), ReceiptSHA256: hex.EncodeToString(receiptSum[:])}
		if im.Release != want || im.State != "available" || len(im.Snapshots) == 0 || im.Tags["Name"] != family+"-"+rel {
			t.Fatalf("release %s image:\n got %+v %v\nwant %+v", rel, im.Release, im.Tags, want)
		}
		ami[rel] = im.ID
	}

	// A group on release 1.
	lt := e.Template(t, amazontest.Unique("api-lt"), ami["1"])
	group := amazontest.Unique("api")
	e.Group(t, group, lt, "$Default", 1)

	pipbake := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(p.Plugin, append([]string{"agent"}, args...)...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.Home, "PIPBAKE_REFRESH_POLL=20ms"}, env...)
		out, err := cmd.CombinedOutput()
		t.Logf("$ pipbake %s\n%s", strings.Join(args, " "), out)
		if err != nil {
			t.Fatalf("pipbake %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	launches := func(rel string) {
		t.Helper()
		if _, im := e.GroupImage(t, group); im != ami[rel] {
			t.Fatalf("the group launches %s, want release %s (%s)", im, rel, ami[rel])
		}
	}
	out := pipbake("images", "--family", family)
	if !strings.Contains(out, "3 releases of "+family) || !strings.Contains(out, "used by autoscaling group "+group) {
		t.Errorf("images before promoting")
	}
	out = pipbake("promote", "--asg", group, "--release", "3", "--wait")
	if !strings.Contains(out, "Successful") {
		t.Error("promote did not wait for the refresh")
	}
	launches("3")
	out = pipbake("rollback", "--asg", group, "--dry-run")
	if !strings.Contains(out, "after:  version 3, "+family+"@2 ("+ami["2"]+")") {
		t.Error("rollback --dry-run does not show release 2")
	}
	launches("3")
	pipbake("rollback", "--asg", group, "--wait")
	launches("2")
	pipbake("rollback", "--asg", group, "--wait")
	launches("1")

	out = pipbake("prune", "--family", family, "--keep", "1", "--yes")
	if !strings.Contains(out, "nothing to delete") || !strings.Contains(out, "prune: 0 images deleted") {
		t.Errorf("prune removed something in use")
	}
	list, err := e.Catalog.Images(context.Background(), family)
	if err != nil || len(list) != 3 {
		t.Fatalf("after prune: %d images, %v", len(list), err)
	}
	out = pipbake("images", "--family", family)
	for _, want := range []string{"pipbake promote " + family + "@3", "pipbake rollback " + family + "@2", "pipbake rollback " + family + "@1"} {
		if !strings.Contains(out, want) {
			t.Errorf("images lacks the record %q", want)
		}
	}
	if refs := e.Front.Refreshes(group); len(refs) != 3 {
		t.Errorf("%d refreshes, want 3", len(refs))
	}
}
