package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest/cosigntest"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest/ociattest"
	"github.com/pipbake/packer-plugin-pipbake/internal/chroot"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/basetest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/packertest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/registrytest"
)

const attestTemplate = `
packer {
  required_plugins {
    pipbake = {
      source  = "github.com/pipbake/pipbake"
      version = ">= 0.1.0"
    }
  }
}

variable "base" { type = string }
variable "target" { type = string }
variable "layout" { type = string }
variable "registry" { type = string }
variable "cache_dir" { type = string }
variable "build_dir" { type = string }
variable "wheelhouse" { type = string }
variable "lock" { type = string }
variable "key" { type = string }
variable "layer_per_set" {
  type    = bool
  default = true
}

source "pipbake-oci" "app" {
  base                = var.base
  target              = var.target
  output_oci_layout   = var.layout
  insecure_registries = [var.registry]
  cache_dir           = var.cache_dir
  build_dir           = var.build_dir
  family              = "hello"
  source_date_epoch   = 1700000000
  signing_key         = var.key
  layer_per_set       = var.layer_per_set
  entrypoint          = ["/opt/hello/current/bin/hello"]
}

build {
  sources = ["source.pipbake-oci.app"]

  provisioner "pipbake" {
    wheelhouse        = var.wheelhouse
    release           = "r1"
    staging_directory = "/tmp/pipbake"
    skip_clean        = true

    set {
      name           = "hello"
      lock           = var.lock
      root           = "/opt/hello"
      python         = "/usr/bin/python3"
      verify_on_boot = true
      service {
        command = "hello"
      }
    }
  }

  # The plan the agent installed, kept where the image shows it (the
  # staging folder under /tmp is left out of the layers).
  provisioner "shell" {
    inline = ["cp /tmp/pipbake/plan.json /opt/installed-plan.json"]
  }
}
`

// TestPackerBuildOCIAttested bakes the hello app twice, in two folders
// with their own caches, signed with a key the real cosign made, once to
// a registry with the referrers API (go-containerregistry's) and once to
// Debian's docker-registry 2.8 (no referrers API: the fallback tag). The
// two images and their statements are the same bytes; the real cosign
// verifies the attestations pipbake wrote in both registries, and refuses
// them with another key; pipbake verify --image passes, then catches a set
// layer swapped for other bytes of the same size in the registry's store.
func TestPackerBuildOCIAttested(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	cosign := cosigntest.Bin(t)
	_ = cosign
	base := ociimage.LayoutPrefix + basetest.Layout(t)
	refSrv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true)))
	defer refSrv.Close()
	refHost := strings.TrimPrefix(refSrv.URL, "http://")
	distribution := registrytest.Start(t)

	keys := t.TempDir()
	const password = "pipbake-test-password"
	key, pub := cosigntest.KeyPair(t, keys, password)
	otherKeys := t.TempDir()
	_, otherPub := cosigntest.KeyPair(t, otherKeys, "another-password")

	p := packertest.New(t, packertest.Options{Env: []string{"COSIGN_PASSWORD=" + password}})
	plugin := p.InstallPlugin()
	tpl := p.WriteFile("attest.pkr.hcl", attestTemplate)
	p.FmtCheck(tpl).Must(t)
	p.Init(tpl).Must(t)

	// Each bake has its own folder: wheels, lock, cache, build folder, layout.
	bake := func(dir, host string, extra ...string) (ref, layout string, out string) {
		t.Helper()
		wh := filepath.Join(dir, "wheels")
		os.MkdirAll(wh, 0o755)
		if _, err := hello.Build(wh); err != nil {
			t.Fatal(err)
		}
		lock := filepath.Join(dir, "hello.txt")
		os.WriteFile(lock, hello.Lock, 0o644)
		layout = filepath.Join(dir, "layout")
		args := []string{"-var", "base=" + base, "-var", "target=" + host + "/hello/app:r1", "-var", "layout=" + layout,
			"-var", "registry=" + host, "-var", "cache_dir=" + filepath.Join(dir, "cache"), "-var", "build_dir=" + filepath.Join(dir, "builds"),
			"-var", "wheelhouse=" + wh, "-var", "lock=" + lock, "-var", "key=" + key}
		r := p.Build(tpl, append(args, extra...)...).Must(t)
		if strings.Contains(r.Output, password) {
			t.Fatal("the key's password appears in Packer's output")
		}
		return pushedRef(t, r.Output), layout, r.Output
	}
	refA, _, outA := bake(t.TempDir(), refHost)
	refB, layoutB, _ := bake(t.TempDir(), distribution.Host)
	if !strings.Contains(outA, "Attached 2 attestation(s) (signed with") {
		t.Errorf("bake output:\n%s", grep(outA, "ttestation"))
	}
	// 5. The same lock, base and SOURCE_DATE_EPOCH: the same image, and
	// the same statements (SBOM and provenance) byte for byte, but for
	// the subject's name (the repository each was pushed to).
	if digestOf(refA) != digestOf(refB) {
		t.Fatalf("two bakes in two folders gave %s and %s", refA, refB)
	}
	payloadsA, payloadsB := statements(t, refA), statements(t, refB)
	hostB := strings.SplitN(refB, "/", 2)[0]
	for pt, a := range payloadsA {
		renamed := bytes.ReplaceAll(a, []byte(`"name":"`+refHost+`/hello/app"`), []byte(`"name":"`+hostB+`/hello/app"`))
		if !bytes.Equal(renamed, payloadsB[pt]) || bytes.Equal(renamed, a) {
			t.Errorf("the %s statements differ between the bakes:\n%s\n%s", pt, a, payloadsB[pt])
		}
	}
	if len(payloadsA) != 2 {
		t.Fatalf("statements %v", payloadsA)
	}
	prov := string(payloadsA[attest.PredicateSLSA])
	for _, want := range []string{`"SOURCE_DATE_EPOCH":1700000000`, `"name":"attest.pkr.hcl"`, `"lock:hello"`, `"name":"oci-layout:`, `"python:hello"`, `"layer:hello"`} {
		if !strings.Contains(prov, want) {
			t.Errorf("the provenance lacks %s:\n%s", want, prov)
		}
	}
	// The layout holds the referrers too.
	if idx, err := os.ReadFile(filepath.Join(layoutB, "index.json")); err != nil || !strings.Contains(string(idx), ociattest.ArtifactTypeSLSA) {
		t.Errorf("layout index: %v\n%s", err, idx)
	}

	// 4. Verify on boot, in a chroot of the baked root: the unit the
	// service requires runs the agent against the receipt digest baked
	// into it; it passes, then fails naming a file changed after the bake.
	t.Log("verify on boot, in a chroot of the baked root")
	root := unpackImage(t, pull(t, refA))
	installedPlan(t, root, payloadsA[attest.PredicateSLSA])
	checkVerifyOnBoot(t, root)
	t.Log("cosign verify-attestation")

	// The real cosign verifies what pipbake wrote, in both registries, and
	// refuses it with another key.
	for _, ref := range []string{refA, refB} {
		for _, typ := range []string{"cyclonedx", "slsaprovenance1"} {
			if out, err := cosigntest.VerifyAttestation(t, keys, ref, pub, typ); err != nil {
				t.Errorf("cosign verify-attestation --type %s %s: %v\n%s", typ, ref, err, out)
			}
		}
		if out, err := cosigntest.VerifyAttestation(t, otherKeys, ref, otherPub, "cyclonedx"); err == nil {
			t.Errorf("cosign verified %s with another key:\n%s", ref, out)
		}
	}

	t.Log("pipbake verify --image")
	// pipbake verify --image: clean, with the JSON report.
	for _, ref := range []string{refA, refB} {
		out, code := pipbakeCLI(t, plugin, "verify", "--image", ref, "--key", pub, "--json")
		if code != 0 {
			t.Fatalf("verify --image %s: exit %d\n%s", ref, code, out)
		}
		var rep ociattest.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Sets) != 1 || rep.Sets[0].Checked < 10 || rep.Verified != 2 {
			t.Fatalf("verify --image %s report: %v\n%s", ref, err, out)
		}
	}
	// With layer_per_set off, the provenance gives each set the one new
	// layer, and verify finds the release there.
	refC, _, _ := bake(t.TempDir(), refHost, "-var", "layer_per_set=false")
	if out, code := pipbakeCLI(t, plugin, "verify", "--image", refC, "--key", pub); code != 0 || !strings.Contains(out, "1 set layer(s) match") {
		t.Errorf("verify --image of a one-layer image: exit %d\n%s", code, out)
	}
	if out, code := pipbakeCLI(t, plugin, "verify", "--image", refA, "--key", otherPub); code != 1 {
		t.Errorf("verify with another key: exit %d\n%s", code, out)
	}

	// Swap the set's layer in docker-registry's store for other bytes of
	// the same size: the digest still names it, so only reading it shows.
	img := pull(t, refB)
	m, _ := img.Manifest()
	setLayer := m.Layers[len(m.Layers)-1].Digest
	blob := filepath.Join(distribution.Dir, "data", "docker", "registry", "v2", "blobs", "sha256", setLayer.Hex[:2], setLayer.Hex, "data")
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	other := m.Layers[1].Digest // the rest layer, cut or padded to the same size
	od, err := os.ReadFile(filepath.Join(distribution.Dir, "data", "docker", "registry", "v2", "blobs", "sha256", other.Hex[:2], other.Hex, "data"))
	if err != nil {
		t.Fatal(err)
	}
	swapped := make([]byte, len(data))
	copy(swapped, od)
	if err := os.WriteFile(blob, swapped, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := pipbakeCLI(t, plugin, "verify", "--image", refB, "--key", pub)
	if code != 1 || !strings.Contains(out, "same size, other content") {
		t.Fatalf("verify after swapping the set layer: exit %d\n%s", code, out)
	}
	os.WriteFile(blob, data, 0o644)
	if out, code := pipbakeCLI(t, plugin, "verify", "--image", refB, "--key", pub); code != 0 {
		t.Fatalf("verify after putting the layer back: exit %d\n%s", code, out)
	}
}

// statements reads the image's attestations' payloads by predicate type.
func statements(t *testing.T, ref string) map[string][]byte {
	t.Helper()
	r, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	found, err := ociattest.Fetch(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, a := range found.Attestations {
		_, payload, err := attest.ParseEnvelope(a.Envelope)
		if err != nil {
			t.Fatal(err)
		}
		out[a.PredicateType] = payload
	}
	return out
}

// pipbakeCLI runs the plugin binary as the pipbake command line.
func pipbakeCLI(t *testing.T, plugin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(plugin, append([]string{"agent"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run %s: %v", plugin, err)
	}
	return string(out), 0
}

// installedPlan: the image's provenance names, for the set, the plan the
// agent installed, by the sha256 of the plan file the template's shell
// provisioner copied from the staging folder into the image (computed
// here).
func installedPlan(t *testing.T, root string, statement []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "opt/installed-plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := &attest.File{Name: "plan.json", SHA256: attest.SHA256Hex(data)}
	st, err := attest.ParseStatement(statement)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := attest.ParseProvenance(st.Predicate)
	if err != nil {
		t.Fatal(err)
	}
	sets := prov.BuildDefinition.ExternalParameters.Sets
	if len(sets) != 1 || sets[0].Name != "hello" || sets[0].Plan == nil || *sets[0].Plan != *want {
		t.Fatalf("the image's provenance names the sets %+v, want hello's plan %v:\n%s", sets, want, statement)
	}
}

// checkVerifyOnBoot runs the verify-on-boot unit's command in a chroot of
// root before and after changing a file of the release, and checks the
// statements the agent kept in the image: the ones its receipt and SBOM
// make, naming no plan and no template file (they sit in the set's layer,
// which must depend on that set only; the image's provenance names them).
func checkVerifyOnBoot(t *testing.T, root string) {
	t.Helper()
	unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/pipbake-verify@hello.service"))
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/hello.service"))
	if !strings.Contains(string(svc), "Requires=pipbake-verify@hello.service") || !strings.Contains(string(svc), "After=network-online.target pipbake-verify@hello.service") {
		t.Errorf("hello.service does not require its verify unit:\n%s", svc)
	}
	rc, err := os.ReadFile(filepath.Join(root, "var/lib/pipbake/receipts/hello.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exec string
	for _, l := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			exec = v
		}
	}
	if want := "/var/lib/pipbake/bin/pipbake verify --root /opt/hello --receipt-sha256 " + attest.SHA256Hex(rc); exec != want {
		t.Fatalf("ExecStart=%q, want %q", exec, want)
	}
	// The statements the agent kept are the ones made from the receipts
	// (what the post-processor signs for AMIs).
	sbom, _ := os.ReadFile(filepath.Join(root, "var/lib/pipbake/receipts/hello.cdx.json"))
	sts, err := attest.ReleaseStatements([]attest.Set{{Name: "hello", Receipt: rc, SBOM: sbom}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n, data := range attest.StatementBytes(sts) {
		got, err := os.ReadFile(filepath.Join(root, "var/lib/pipbake/attestations", n))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("statement %s in the image: %v", n, err)
		}
	}
	// Boot, as far as these units go: systemd starts a unit's Requires=
	// units first; ordered After= a oneshot, it waits for it to exit, and
	// one that fails keeps it from starting ("dependency failed"). Each
	// ExecStart runs in a chroot of the baked root.
	run := func(command string) (string, int) {
		var out bytes.Buffer
		sess := &chroot.Session{Spec: chroot.Spec{Dir: root, Env: chroot.DefaultEnv}}
		code, err := sess.Run(context.Background(), command, nil, &out, &out)
		if err != nil {
			t.Fatalf("run %s in the image: %v", command, err)
		}
		return out.String(), code
	}
	boot := func() (started bool, out string) {
		for _, req := range strings.Fields(unitValue(t, string(svc), "Requires")) {
			u, err := os.ReadFile(filepath.Join(root, "etc/systemd/system", req))
			if err != nil {
				t.Fatalf("hello.service requires %s: %v", req, err)
			}
			if typ := unitValue(t, string(u), "Type"); typ != "oneshot" {
				t.Fatalf("%s is Type=%s: After= would not wait for it to finish", req, typ)
			}
			o, code := run(unitValue(t, string(u), "ExecStart"))
			out += o
			if code != 0 {
				return false, out
			}
		}
		o, code := run(unitValue(t, string(svc), "ExecStart"))
		if code != 0 {
			t.Fatalf("hello.service's command failed in the image: exit %d\n%s", code, o)
		}
		return true, out + o
	}
	if started, out := boot(); !started || !strings.Contains(out, "Hello from hello") {
		t.Fatalf("booting the baked image: the service did not start:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(root, "opt/hello/releases/r1/lib/python3*/site-packages/hello/*.py"))
	if len(files) == 0 {
		t.Fatal("no hello module in the image")
	}
	f, _ := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("print('changed after the bake')\n")
	f.Close()
	// The service's own command would still start...
	if out, code := run(unitValue(t, string(svc), "ExecStart")); code != 0 || !strings.Contains(out, "Hello from hello") {
		t.Fatalf("hello's command after the change: exit %d\n%s", code, out)
	}
	// ...but at boot its verify unit fails, naming the file, and the
	// service does not start.
	started, out := boot()
	if started || !strings.Contains(out, filepath.Base(files[0])) || !strings.Contains(out, "modified") || strings.Contains(out, "Hello from hello") {
		t.Fatalf("booting after changing %s: started %v\n%s", files[0], started, out)
	}
}

// unitValue is a systemd unit's last value of key ("" when absent).
func unitValue(t *testing.T, unit, key string) string {
	t.Helper()
	var v string
	for _, l := range strings.Split(unit, "\n") {
		if val, ok := strings.CutPrefix(l, key+"="); ok {
			v = val
		}
	}
	return v
}
