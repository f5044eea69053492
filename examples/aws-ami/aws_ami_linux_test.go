// Package awsami_test is examples/aws-ami's test: the whole release
// pipeline, offline. Packer's real amazon-ebs builder (packer-plugin-amazon,
// built by .ci/tools.sh) runs this folder's template against moto_server,
// with ssh_host/ssh_port pointing at a loopback sshd that stands in for the
// launched instance: its sessions run chrooted in a fresh Debian root
// (debootstrap, with python3 and sudo), so the bake lands in a machine of
// its own, not on this host. The pipbake provisioner installs the hello
// set there; pipbake-release tags the AMI and its snapshot. Then the
// catalog commands run against the result.
package awsami_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/basetest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

func TestMain(m *testing.M) { os.Exit(amazontest.Main(m)) }

// TestBakePromoteRollBackPrune bakes releases 1, 2 and 3 of a family with
// this template, puts an autoscaling group on release 1, promotes 2, then
// 3 (with checkpoints and a CloudWatch alarm), diffs 1 and 3 with the
// receipts the bakes brought back, revokes 2, which promote then refuses,
// rolls back past 2 to 1, and prunes with keep 1, which removes nothing in
// use. The template runs as a user would run it, apart from the variables
// that point it at the emulator and the loopback machine. The pipbake
// command line is the plugin binary's agent mode (the same code as
// cmd/pipbake).
func TestBakePromoteRollBackPrune(t *testing.T) {
	e := amazontest.New(t)
	machine := basetest.MachineRoot(t)
	srv := sshtarget.StartT(t, sshtarget.Options{Chroot: machine})
	env := append(e.Environ(), "AWS_POLL_DELAY_SECONDS=1", "AWS_MAX_ATTEMPTS=3")
	p := packertest.New(t, packertest.Options{Env: env})
	p.InstallPlugin()
	p.InstallAmazon(t)

	work := t.TempDir()
	wheels := filepath.Join(work, "wheels")
	os.MkdirAll(wheels, 0o755)
	if _, err := hello.Build(wheels); err != nil {
		t.Fatal(err)
	}
	lock, err := filepath.Abs("../hello/requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	lockBytes, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	lockSum := sha256.Sum256(lockBytes)
	// The set's root as the template makes it (/opt/<set_name>), inside
	// the machine.
	root := filepath.Join(machine, "opt", "hello")
	tpl, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	family := amazontest.Unique("api-node")
	// The attestations' key, on the Packer host only.
	keyDir := t.TempDir()
	signingKey, pubKey := writeKeyPair(t, keyDir)
	vars := func(rel, receipts string) []string {
		v := map[string]string{
			"region": amazontest.Region, "skip_region_validation": "true",
			"source_ami": e.BaseAMI(t, "x86_64"), "family": family, "release": rel,
			"ssh_host": srv.Host, "ssh_port": fmt.Sprint(srv.Port), "ssh_username": srv.User,
			"ssh_private_key_file": srv.PrivateKeyPath,
			"wheelhouse":           wheels, "lock": lock, "receipt_output": receipts,
			// not hello's version: pipbake-release must put the receipt's
			// (0.1.0) in pipbake:sets over it
			"set_name": "hello", "app_version": "9.9.9",
			// hello has no server; its console script stands in for
			// the template's gunicorn line.
			"service_command": "hello",
			"signing_key":     signingKey, "verify_on_boot": "true",
		}
		var args []string
		for k, val := range v {
			args = append(args, "-var", k+"="+val)
		}
		return args
	}
	p.FmtCheck(tpl).Must(t)
	p.Init(tpl).Must(t)
	p.Validate(tpl, vars("1", work)...).Must(t)

	ami := map[string]string{}
	for _, rel := range []string{"1", "2", "3"} {
		receipts := filepath.Join(work, "receipts", rel)
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
		// amazon-ebs filled in the source AMI of pipbake:base.
		if !strings.HasSuffix(im.Release.Base, " ("+e.BaseAMI(t, "x86_64")+")") || strings.HasPrefix(im.Release.Base, " ") {
			t.Errorf("release %s: pipbake:base %q does not name the source AMI", rel, im.Release.Base)
		}
		want := catalog.Release{Family: family, Release: rel, Sets: "hello@0.1.0", LockSHA256: hex.EncodeToString(lockSum[:]), ReceiptSHA256: hex.EncodeToString(receiptSum[:]), Base: im.Release.Base}
		if im.Release != want || im.State != "available" || len(im.Snapshots) == 0 || im.Tags["Name"] != family+"-"+rel {
			t.Fatalf("release %s image:\n got %+v %v\nwant %+v", rel, im.Release, im.Tags, want)
		}
		checkAttestations(t, machine, receipts, pubKey, im.Tags)
		// pipbake-release tagged the snapshot the same way.
		snaps, err := e.EC2.DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{SnapshotIds: im.Snapshots})
		if err != nil || len(snaps.Snapshots) == 0 {
			t.Fatalf("release %s: describe snapshots %v: %v", rel, im.Snapshots, err)
		}
		for _, sn := range snaps.Snapshots {
			tags := map[string]string{}
			for _, tg := range sn.Tags {
				tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			if tags[catalog.TagFamily] != family || tags[catalog.TagRelease] != rel || tags[catalog.TagReceiptSHA256] != want.ReceiptSHA256 {
				t.Errorf("release %s: snapshot %s tags %v", rel, aws.ToString(sn.SnapshotId), tags)
			}
		}
		// amazon-ebs sets ami_description with ModifyImageAttribute, which
		// moto accepts and ignores: check that the builder asked.
		if !strings.Contains(r.Output, "Modifying attributes on AMI ("+im.ID+")") || !strings.Contains(r.Output, "Modifying: description") {
			t.Errorf("release %s: amazon-ebs did not set the AMI's description", rel)
		}
		// The manifest post-processor names the AMI for the CI job.
		if m := manifestAMI(t, filepath.Join(p.Dir, "packer-manifest.json")); m != amazontest.Region+":"+im.ID {
			t.Errorf("release %s: packer-manifest.json's last artifact is %q, want %s:%s", rel, m, amazontest.Region, im.ID)
		}
		ami[rel] = im.ID
	}

	// The bake landed in the machine: the app runs there on the machine's
	// own Python, its service is enabled for the next boot and its user
	// exists; this host got none of it.
	ran, err := exec.Command("chroot", machine, "/opt/hello/current/bin/hello").CombinedOutput()
	if err != nil || !strings.Contains(string(ran), "Hello from hello 0.1.0 on Python 3.11") || !strings.Contains(string(ran), "sys.prefix: /opt/hello/releases/3") {
		t.Errorf("hello in the machine: %v\n%s", err, ran)
	}
	for _, f := range []string{"etc/systemd/system/hello.service", "etc/systemd/system/multi-user.target.wants/hello.service", "var/lib/pipbake/receipts/hello.json",
		"etc/systemd/system/pipbake-verify@hello.service", "var/lib/pipbake/bin/pipbake"} {
		if _, err := os.Lstat(filepath.Join(machine, f)); err != nil {
			t.Errorf("the machine lacks /%s: %v", f, err)
		}
	}
	if passwd, err := os.ReadFile(filepath.Join(machine, "etc/passwd")); err != nil || !strings.Contains(string(passwd), "\nhello:") {
		t.Errorf("the machine has no user hello: %v", err)
	}
	for _, f := range []string{"/opt/hello", "/etc/systemd/system/hello.service"} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("%s exists on this host: the bake left the machine", f)
		}
	}

	// A group on release 1.
	lt := e.Template(t, amazontest.Unique("api-lt"), ami["1"])
	group := amazontest.Unique("api")
	e.Group(t, group, lt, "$Default", 1)

	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(p.Plugin, append([]string{"agent"}, args...)...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.Home, "PIPBAKE_REFRESH_POLL=20ms"}, env...)
		out, err := cmd.CombinedOutput()
		t.Logf("$ pipbake %s\n%s", strings.Join(args, " "), out)
		return string(out), err
	}
	pipbake := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("pipbake %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	launches := func(rel string) {
		t.Helper()
		if _, im := e.GroupImage(t, group); im != ami[rel] {
			t.Fatalf("the group launches %s, want release %s (%s)", im, rel, ami[rel])
		}
	}
	// verify --ami: the image's tags against the signed attestations the
	// post-processor wrote; another release's attestations do not match.
	out := pipbake("verify", "--ami", ami["3"], "--key", pubKey, "--attestations", filepath.Join(work, "receipts", "3", "attestations"), "--region", amazontest.Region)
	if !strings.Contains(out, "its tags match 2 signed attestation(s)") {
		t.Errorf("verify --ami:\n%s", out)
	}
	if out, err := run("verify", "--ami", ami["2"], "--key", pubKey, "--attestations", filepath.Join(work, "receipts", "3", "attestations"), "--region", amazontest.Region); err == nil {
		t.Errorf("verify --ami of release 2 with release 3's attestations passed:\n%s", out)
	}
	// Verify on boot, in the machine: the unit's check passes, and fails
	// once a file of the release changes.
	unit, _ := os.ReadFile(filepath.Join(machine, "etc/systemd/system/pipbake-verify@hello.service"))
	var check []string
	for _, l := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			check = strings.Fields(v)
		}
	}
	if len(check) == 0 {
		t.Fatalf("no ExecStart in the verify unit:\n%s", unit)
	}
	if ran, err := exec.Command("chroot", append([]string{machine}, check...)...).CombinedOutput(); err != nil {
		t.Errorf("verify on boot in the machine: %v\n%s", err, ran)
	}
	script := filepath.Join(machine, "opt/hello/current/bin/hello")
	orig, _ := os.ReadFile(script)
	os.WriteFile(script, append(append([]byte(nil), orig...), "# changed\n"...), 0o755)
	if ran, err := exec.Command("chroot", append([]string{machine}, check...)...).CombinedOutput(); err == nil || !strings.Contains(string(ran), "bin/hello") {
		t.Errorf("verify on boot after changing bin/hello: %v\n%s", err, ran)
	}
	os.WriteFile(script, orig, 0o755)

	out = pipbake("images", "--family", family)
	if !strings.Contains(out, "3 releases of "+family) || !strings.Contains(out, "used by autoscaling group "+group) {
		t.Errorf("images before promoting")
	}
	out = pipbake("promote", "--asg", group, "--release", "2", "--wait")
	if !strings.Contains(out, "Successful") {
		t.Error("promote did not wait for the refresh")
	}
	launches("2")

	// 3, with checkpoints and an alarm that must stay OK; the group now
	// names its version, so AWS may roll the refresh back.
	alarm := amazontest.Unique("api-5xx")
	if _, err := e.Catalog.CW.PutMetricAlarm(context.Background(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(alarm), Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, Threshold: aws.Float64(10),
		EvaluationPeriods: aws.Int32(1), Period: aws.Int32(60), Statistic: cwtypes.StatisticSum,
	}); err != nil {
		t.Fatal(err)
	}
	out = pipbake("promote", "--asg", group, "--release", "3", "--wait", "--checkpoints", "50,100", "--checkpoint-delay", "60", "--alarm", alarm, "--receipts", filepath.Join(work, "receipts"))
	for _, want := range []string{"checkpoints 50%, 100% (60s each), alarms " + alarm + ", auto rollback", "changes: " + family + "@2 (", "no known difference", "Successful, 100% done"} {
		if !strings.Contains(out, want) {
			t.Errorf("promote 3 lacks %q", want)
		}
	}
	launches("3")
	if r := e.Front.Refreshes(group)[0]; r.Preference("AutoRollback") != "true" || len(r.Alarms()) != 1 {
		t.Errorf("the refresh AWS got: %+v", r.Params)
	}
	if _, v := e.Front.Refreshes(group)[0].Desired(); v != "3" {
		t.Errorf("the refresh's desired version is %q, want 3", v)
	}

	// The receipts the bakes brought back tell what differs (nothing but
	// the release: the lock is the same), offline or through the AMIs.
	out = pipbake("diff", filepath.Join(work, "receipts", "1"), filepath.Join(work, "receipts", "3"))
	if !strings.Contains(out, "no known difference") {
		t.Errorf("diff of receipts")
	}
	out = pipbake("diff", "--family", family, "1", "3", "--receipts", filepath.Join(work, "receipts"), "--json")
	if !strings.Contains(out, `"receipts `+filepath.Join(work, "receipts", "1")+`"`) || strings.Contains(out, "only tags are known") {
		t.Errorf("diff of releases with their receipts")
	}

	// Revoke 2: promote refuses it, rollback passes over it, back to 1.
	pipbake("revoke", "--family", family, "--release", "2", "--reason", "leaks file descriptors")
	if out, err := run("promote", "--asg", group, "--release", "2", "--dry-run"); err == nil || !strings.Contains(out, "pass --force to promote it anyway") {
		t.Errorf("promote of a revoked release: %v", err)
	}
	out = pipbake("rollback", "--asg", group, "--dry-run")
	if !strings.Contains(out, "after:  version 4, "+family+"@1 ("+ami["1"]+")") || !strings.Contains(out, "skipped "+family+"@2 ("+ami["2"]+") (version 2): revoked ") {
		t.Error("rollback --dry-run does not pass over the revoked release 2 to 1")
	}
	launches("3")
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
	for _, want := range []string{"pipbake promote, from version 1: " + family + "@2", "pipbake promote, from version 2: " + family + "@3", "pipbake rollback, from version 3, restores version 1: " + family + "@1",
		"REVOKED ", ": leaks file descriptors", "runs on group " + group + " since ", "ran on group " + group + " from "} {
		if !strings.Contains(out, want) {
			t.Errorf("images lacks %q", want)
		}
	}
	if refs := e.Front.Refreshes(group); len(refs) != 3 {
		t.Errorf("%d refreshes, want 3", len(refs))
	}
}

// manifestAMI is the artifact id of the last build in a Packer manifest.
// writeKeyPair writes an ECDSA P-256 key pair as PEM files.
func writeKeyPair(t *testing.T, dir string) (key, pub string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	key, pub = filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.pub")
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	p, _ := attest.MarshalPublicKey(&k.PublicKey)
	os.WriteFile(pub, p, 0o644)
	return key, pub
}

// checkAttestations: the agent kept the set's statements in the machine;
// pipbake-release made the same bytes from the receipts, signed them with
// the key, and tagged the image with their digest.
func checkAttestations(t *testing.T, machine, receipts, pubPath string, tags map[string]string) {
	t.Helper()
	pub, err := attest.LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, n := range []string{"hello.sbom", "hello.provenance"} {
		inImage, err := os.ReadFile(filepath.Join(machine, "var/lib/pipbake/attestations", n+attest.StatementSuffix))
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(receipts, "attestations", n+attest.EnvelopeSuffix))
		if err != nil {
			t.Fatal(err)
		}
		env, _, err := attest.ParseEnvelope(data)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := env.Verify(pub)
		if err != nil || !bytes.Equal(payload, inImage) {
			t.Errorf("%s: the signed statement is not the one in the machine: %v", n, err)
		}
		files[n+attest.StatementSuffix] = inImage
	}
	// The provenance names the plan the agent installed and the
	// template's files (their sha256 computed here).
	rc, err := os.ReadFile(filepath.Join(receipts, "hello.json"))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := os.ReadFile("build.pkr.hcl")
	if err != nil {
		t.Fatal(err)
	}
	plan, templates, err := attest.ReadReleaseProvenance(files["hello.provenance"+attest.StatementSuffix], "hello", rc)
	if err != nil || plan == nil || plan.Name != "plan.json" || len(templates) != 1 || templates[0] != (attest.File{Name: "build.pkr.hcl", SHA256: attest.SHA256Hex(tpl)}) {
		t.Errorf("the provenance names plan %v, templates %v (%v)", plan, templates, err)
	}
	if got := tags[attest.TagAttestationSHA256]; got != attest.ManifestDigest(files) {
		t.Errorf("%s = %q, want %s", attest.TagAttestationSHA256, got, attest.ManifestDigest(files))
	}
}

func manifestAMI(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the manifest: %v", err)
	}
	var m struct {
		Builds []struct {
			ArtifactID string `json:"artifact_id"`
		} `json:"builds"`
		LastRunUUID string `json:"last_run_uuid"`
	}
	if err := json.Unmarshal(b, &m); err != nil || len(m.Builds) == 0 {
		t.Fatalf("manifest %s: %v\n%s", path, err, b)
	}
	return m.Builds[len(m.Builds)-1].ArtifactID
}
