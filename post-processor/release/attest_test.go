package release

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// writeReceipt writes set's receipt and SBOM into dir, as the provisioner's
// receipt_output does, and returns the receipt's bytes and the SBOM's.
func writeReceipt(t *testing.T, dir, set string) (rc, sbom []byte) {
	t.Helper()
	r := &receipt.Receipt{Schema: receipt.Schema, Set: set, Release: "7", Created: time.Unix(1700000000, 0).UTC(), Pipbake: "0.1.0", Installer: "native",
		Lock:          receipt.Lock{Path: "/tmp/pipbake-7/locks/0-" + set + "/req.txt", SHA256: strings.Repeat("c", 64), Format: "requirements"},
		Interpreter:   receipt.Interpreter{Path: "/usr/bin/python3", Version: "3.11.2", Implementation: "cpython", Platform: "linux-x86_64"},
		Distributions: []receipt.Distribution{{Name: set, Version: "1.4.2", Wheel: set + "-1.4.2-py3-none-any.whl", SHA256: strings.Repeat("d", 64)}}}
	sbom, err := r.SBOM()
	if err != nil {
		t.Fatal(err)
	}
	r.SBOMSHA256 = attest.SHA256Hex(sbom)
	if rc, err = r.Marshal(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, set+".json"), rc, 0o644)
	os.WriteFile(filepath.Join(dir, set+".cdx.json"), sbom, 0o644)
	return rc, sbom
}

// TestAttestReleaseSignsWithThePlan: the post-processor signs statements
// naming the plan each set was installed from and the template files, as
// the provisioner's statements in receipts_dir/attestations name them
// (Packer tells a post-processor neither); the envelopes' payloads are the
// provisioner's bytes. A statement the receipts do not make (edited after
// the bake) is refused; without the provisioner's statements, the signed
// ones name no plan.
func TestAttestReleaseSignsWithThePlan(t *testing.T) {
	dir := t.TempDir()
	rc, sbom := writeReceipt(t, dir, "api")
	planBytes := []byte(`{"release":"7","sets":[{"name":"api"}]}`)
	plan := &attest.File{Name: "plan.json", SHA256: attest.SHA256Hex(planBytes)}
	templates := []attest.File{{Name: "ami.pkr.hcl", SHA256: attest.SHA256Hex([]byte("source {}\n"))}}
	sts, err := attest.ReleaseStatements([]attest.Set{{Name: "api", Receipt: rc, SBOM: sbom, Plan: plan}}, templates)
	if err != nil {
		t.Fatal(err)
	}
	atts := filepath.Join(dir, AttestationsDir)
	os.MkdirAll(atts, 0o755)
	for n, data := range attest.StatementBytes(sts) {
		os.WriteFile(filepath.Join(atts, n), data, 0o644)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	keyPath := filepath.Join(t.TempDir(), "signing.key")
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)

	p := &PostProcessor{config: Config{Family: "api-node", ReceiptsDir: dir, SigningKey: keyPath}}
	got, err := p.attestRelease()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Signed || len(got.Files) != 2 || got.Digest != attest.ManifestDigest(attest.StatementBytes(sts)) {
		t.Fatalf("attested %+v", got)
	}
	envPath := filepath.Join(atts, "api.provenance"+attest.EnvelopeSuffix)
	data, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := attest.ParseEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := env.Verify(&k.PublicKey)
	if err != nil || !bytes.Equal(payload, sts[attest.ProvenanceFile("api")].Bytes()) {
		t.Fatalf("the signed provenance is not the provisioner's: %v\n%s", err, payload)
	}
	if gotPlan, gotTpl, err := attest.ReadReleaseProvenance(payload, "api", rc); err != nil || gotPlan == nil || *gotPlan != *plan || len(gotTpl) != 1 || gotTpl[0] != templates[0] {
		t.Errorf("the signed provenance names plan %v, templates %v (%v); want %v, %v", gotPlan, gotTpl, err, plan, templates)
	}

	// A statement edited after the bake is not what the receipts make.
	sbomStatement := filepath.Join(atts, attest.SBOMFile("api"))
	orig, _ := os.ReadFile(sbomStatement)
	os.WriteFile(sbomStatement, bytes.Replace(orig, []byte(`"bomFormat"`), []byte(`"bomFormat" `), 1), 0o644)
	if _, err := p.attestRelease(); err == nil || !strings.Contains(err.Error(), "is not the statement set api's receipt and SBOM make") {
		t.Errorf("an edited statement: %v", err)
	}
	os.WriteFile(sbomStatement, orig, 0o644)
	// A provenance about another receipt (this one with a byte more) is
	// refused, naming the file.
	os.WriteFile(filepath.Join(dir, "api.json"), append(append([]byte(nil), rc...), ' '), 0o644)
	if _, err := p.attestRelease(); err == nil || !strings.Contains(err.Error(), "api.provenance.intoto.json") || !strings.Contains(err.Error(), "not about the receipt") {
		t.Errorf("a provenance about another receipt: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "api.json"), rc, 0o644)

	// Without the provisioner's statements (an older provisioner's
	// receipts): statements naming no plan.
	for n := range sts {
		os.Remove(filepath.Join(atts, n))
	}
	if _, err := p.attestRelease(); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(envPath)
	env, _, _ = attest.ParseEnvelope(data)
	payload, _ = env.Verify(&k.PublicKey)
	if gotPlan, _, err := attest.ReadReleaseProvenance(payload, "api", rc); err != nil || gotPlan != nil {
		t.Errorf("without the provisioner's statements: plan %v, %v", gotPlan, err)
	}
}
