// Package cosigntest gives tests the real cosign, built from the Go module
// proxy by .ci/tools.sh (PIPBAKE_TOOLS=cosign, its tools module
// .ci/tools/cosign) and cached like packer: a test that needs it asks for
// it here, so the default tools list stays as it is. Without cosign the
// test is skipped, or fails when PIPBAKE_E2E_REQUIRED is set.
package cosigntest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

var (
	once    sync.Once
	bin     string
	whyNone string
)

// Bin returns the cosign binary: $PIPBAKE_COSIGN, else what .ci/tools.sh
// builds (the first time, minutes) or has cached.
func Bin(tb testing.TB) string {
	tb.Helper()
	testenv.SkipShort(tb, "runs cosign")
	once.Do(func() {
		if p := os.Getenv("PIPBAKE_COSIGN"); p != "" {
			bin = p
			return
		}
		script := findTools()
		if script == "" {
			whyNone = "no .ci/tools.sh above " + mustWd()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", script)
		cmd.Env = append(os.Environ(), "PIPBAKE_TOOLS=cosign")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			whyNone = "PIPBAKE_TOOLS=cosign .ci/tools.sh failed: " + err.Error() + "\n" + errb.String()
			return
		}
		for _, l := range strings.Split(out.String(), "\n") {
			if v, ok := strings.CutPrefix(l, "PIPBAKE_COSIGN="); ok {
				bin = strings.Trim(v, "'")
			}
		}
		if bin == "" {
			whyNone = "tools.sh printed no PIPBAKE_COSIGN"
		}
	})
	if bin == "" {
		testenv.Missing(tb, "cosign: %s", whyNone)
	}
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		testenv.Missing(tb, "cosign: no program at %s", bin)
	}
	return bin
}

func mustWd() string { d, _ := os.Getwd(); return d }

func findTools() string {
	d := mustWd()
	for {
		p := filepath.Join(d, ".ci", "tools.sh")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
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
