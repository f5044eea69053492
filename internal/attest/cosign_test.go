package attest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest/cosigntest"
)

// TestCosignInterop: pipbake reads the encrypted key the real cosign
// generates (scrypt + secretbox, COSIGN_PASSWORD) and signs a statement
// about a file that `cosign verify-blob-attestation` accepts with the
// public key; cosign refuses it for another file, and pipbake refuses the
// key with a wrong password without showing it.
func TestCosignInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cosign")
	}
	dir := t.TempDir()
	const password = "interop-password-123"
	keyPath, pubPath := cosigntest.KeyPair(t, dir, password)
	key, err := attest.LoadPrivateKey(keyPath, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := attest.LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Fatal("cosign.pub is not the public half of the decoded cosign.key")
	}
	if _, err := attest.LoadPrivateKey(keyPath, []byte("not-the-password-456")); err == nil || strings.Contains(err.Error(), "not-the-password-456") {
		t.Errorf("wrong password: %v", err)
	}
	blob := filepath.Join(dir, "release.tar")
	os.WriteFile(blob, []byte("a release tree\n"), 0o644)
	other := filepath.Join(dir, "other.tar")
	os.WriteFile(other, []byte("another tree\n"), 0o644)
	data, _ := os.ReadFile(blob)
	st, err := attest.SBOMStatement([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.5"}`), attest.SHA256Subject("release.tar", attest.SHA256Hex(data)))
	if err != nil {
		t.Fatal(err)
	}
	env, err := attest.Wrap(st, key)
	if err != nil {
		t.Fatal(err)
	}
	sig := filepath.Join(dir, "release.dsse.json")
	os.WriteFile(sig, env.Bytes(), 0o644)
	verify := func(file string) (string, error) {
		return cosigntest.Run(t, dir, cosigntest.Env(dir, ""), "verify-blob-attestation", "--key", pubPath, "--signature", sig,
			"--type", "cyclonedx", "--insecure-ignore-tlog=true", file)
	}
	if out, err := verify(blob); err != nil {
		t.Fatalf("cosign verify-blob-attestation: %v\n%s", err, out)
	}
	if out, err := verify(other); err == nil {
		t.Errorf("cosign accepted the statement for another file:\n%s", out)
	}
}
