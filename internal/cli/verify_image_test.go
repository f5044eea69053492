//go:build !pipbake_agent

package cli

import (
	"context"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/catalog/amazon/amazontest"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/post-processor/release"
)

type amiArtifact struct{ id string }

func (a amiArtifact) BuilderId() string             { return "mitchellh.amazonebs" }
func (a amiArtifact) Files() []string               { return nil }
func (a amiArtifact) Id() string                    { return a.id }
func (a amiArtifact) String() string                { return a.id }
func (a amiArtifact) State(name string) interface{} { return nil }
func (a amiArtifact) Destroy() error                { return nil }

func writeKey(t *testing.T, dir, name string) (key, pub string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	key = filepath.Join(dir, name+".key")
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	p, _ := attest.MarshalPublicKey(&k.PublicKey)
	pub = filepath.Join(dir, name+".pub")
	os.WriteFile(pub, p, 0o644)
	return key, pub
}

// TestVerifyAMI: the pipbake-release post-processor signs each set's
// statements (made from the receipts) and tags the AMI in moto with their
// digest; verify --ami passes with the key, and fails for another key, an
// envelope re-signed by another key, and a tag that names other
// attestations.
func TestVerifyAMI(t *testing.T) {
	e := amazontest.New(t)
	awsEnv(t, e)
	dir := t.TempDir()
	for _, set := range []string{"api", "worker"} {
		rc := &receipt.Receipt{Schema: receipt.Schema, Set: set, Release: "7", Created: time.Unix(1700000000, 0).UTC(), Pipbake: "0.1.0",
			Lock:          receipt.Lock{Path: "/tmp/pipbake/locks/" + set + ".txt", SHA256: strings.Repeat("c", 64), Format: "requirements"},
			Distributions: []receipt.Distribution{{Name: set, Version: "1.4.2", Wheel: set + "-1.4.2-py3-none-any.whl", SHA256: strings.Repeat("d", 64)}}}
		sbom, _ := rc.SBOM()
		rc.SBOMSHA256 = attest.SHA256Hex(sbom)
		data, _ := rc.Marshal()
		os.WriteFile(filepath.Join(dir, set+".json"), data, 0o644)
		os.WriteFile(filepath.Join(dir, set+".cdx.json"), sbom, 0o644)
	}
	keys := t.TempDir()
	key, pub := writeKey(t, keys, "signer")
	otherKey, otherPub := writeKey(t, keys, "other")
	ami := e.Image(t, "x86_64")
	var p release.PostProcessor
	if err := p.Configure(map[string]interface{}{"family": "api-node", "receipts_dir": dir, "signing_key": key}); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	if _, _, _, err := p.PostProcess(context.Background(), &packersdk.BasicUi{Writer: &log, ErrorWriter: &log}, amiArtifact{amazontest.Region + ":" + ami}); err != nil {
		t.Fatal(err)
	}
	has(t, "post-processor output", log.String(), "4 attestation(s), signed", attest.TagAttestationSHA256)
	atts := filepath.Join(dir, release.AttestationsDir)
	args := []string{"verify", "--ami", ami, "--key", pub, "--attestations", atts, "--region", amazontest.Region}
	s := mustRun(t, args...)
	has(t, "verify --ami", s, "its tags match 4 signed attestation(s)")

	// Another key: nothing verifies.
	s, code, _ := pipbake(t, "verify", "--ami", ami, "--key", otherPub, "--attestations", atts, "--region", amazontest.Region)
	if code != 1 || !strings.Contains(s, "does NOT match") {
		t.Errorf("another key: exit %d\n%s", code, s)
	}
	// An envelope re-signed by another key over another statement.
	victim := filepath.Join(atts, "api.sbom.dsse.json")
	orig, _ := os.ReadFile(victim)
	k, _ := attest.LoadPrivateKey(otherKey, nil)
	st, _ := attest.NewStatement(attest.PredicateSBOM, []byte(`{"bomFormat":"CycloneDX"}`), attest.SHA256Subject("api", strings.Repeat("e", 64)))
	forged, _ := attest.Wrap(st, k)
	os.WriteFile(victim, forged.Bytes(), 0o644)
	s, code, _ = pipbake(t, args...)
	if code != 1 || !strings.Contains(s, "api.sbom.dsse.json") {
		t.Errorf("forged envelope: exit %d\n%s", code, s)
	}
	os.WriteFile(victim, orig, 0o644)
	mustRun(t, args...)
	// The AMI's tag names other attestations.
	if _, err := e.EC2.CreateTags(context.Background(), &ec2.CreateTagsInput{Resources: []string{ami},
		Tags: []ec2types.Tag{{Key: aws.String(attest.TagAttestationSHA256), Value: aws.String(strings.Repeat("f", 64))}}}); err != nil {
		t.Fatal(err)
	}
	s, code, _ = pipbake(t, args...)
	if code != 1 || !strings.Contains(s, attest.TagAttestationSHA256) {
		t.Errorf("changed tag: exit %d\n%s", code, s)
	}
	// Usage errors exit 2.
	if _, code, _ := pipbake(t, "verify", "--ami", ami, "--attestations", atts); code != 2 {
		t.Errorf("no --key: exit %d", code)
	}
}
