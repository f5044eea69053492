// Package cosigntest gives tests the real cosign, built from the Go module
// proxy by .ci/tools.sh (PIPBAKE_TOOLS=cosign, from the tools module
// .ci/tools/e2e it shares with packer) and cached like packer: a test
// that needs it asks for it here, and builds it when it is missing. Without cosign the
// test is skipped, or fails when PIPBAKE_E2E_REQUIRED is set.
package cosigntest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/citools"
)

// Bin returns the cosign binary: $PIPBAKE_COSIGN, else what .ci/tools.sh
// builds (the first time, minutes) or has cached.
func Bin(tb testing.TB) string {
	tb.Helper()
	return citools.Bin(tb, "cosign", "PIPBAKE_COSIGN", 25*time.Minute)
}

// Env is a clean environment for cosign: its own HOME (no docker
// credentials, no sigstore cache), the password, no network beyond
// loopback needed.
func Env(home, password string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "COSIGN_PASSWORD=" + password,
		"TUF_ROOT=" + filepath.Join(home, "tuf"), "SIGSTORE_NO_CACHE=true", "COSIGN_EXPERIMENTAL=0"}
}

// Run runs cosign with args in dir and returns its combined output and
// error.
func Run(tb testing.TB, dir string, env []string, args ...string) (string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Bin(tb), args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// KeyPair makes a key pair with `cosign generate-key-pair` in dir,
// encrypted with password: dir/cosign.key and dir/cosign.pub.
func KeyPair(tb testing.TB, dir, password string) (key, pub string) {
	tb.Helper()
	out, err := Run(tb, dir, Env(dir, password), "generate-key-pair")
	if err != nil {
		tb.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	return filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
}

// VerifyAttestation runs `cosign verify-attestation --key pub --type typ`
// on ref offline (no transparency log), against a loopback registry.
func VerifyAttestation(tb testing.TB, dir, ref, pub, typ string) (string, error) {
	tb.Helper()
	return Run(tb, dir, Env(dir, ""), "verify-attestation", "--key", pub, "--type", typ,
		"--insecure-ignore-tlog=true", "--allow-insecure-registry=true", "--allow-http-registry=true", ref)
}
