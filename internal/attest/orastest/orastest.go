// Package orastest gives tests the real oras CLI, built from the Go module
// proxy by .ci/tools.sh (PIPBAKE_TOOLS=oras, from the tools module
// .ci/tools/e2e it shares with packer) and cached like packer: a test
// that needs it asks for it here, and builds it when it is missing. Without oras the test is skipped, or fails when
// PIPBAKE_E2E_REQUIRED is set.
package orastest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/citools"
)

// Bin returns the oras binary: $PIPBAKE_ORAS, else what .ci/tools.sh
// builds (the first time, a minute or two) or has cached.
func Bin(tb testing.TB) string {
	tb.Helper()
	return citools.Bin(tb, "oras", "PIPBAKE_ORAS", 15*time.Minute)
}

// Run runs oras with args, with a HOME of its own (no registry
// credentials, no config), and returns its standard output, standard
// error and error.
func Run(tb testing.TB, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	bin := Bin(tb)
	home := tb.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = home
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// Node is a manifest in `oras discover --format json`'s tree: the subject
// at the root, its referrers below.
type Node struct {
	Reference    string            `json:"reference"`
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
	Referrers    []Node            `json:"referrers"`
}

// Discover runs `oras discover --format json --plain-http` on ref (a
// loopback registry's name@digest), with --distribution-spec spec unless
// spec is "" (oras then tries the referrers API and falls back to the
// referrers tag), and decodes its tree.
func Discover(tb testing.TB, ref, spec string) (*Node, error) {
	tb.Helper()
	args := []string{"discover", "--format", "json", "--plain-http"}
	if spec != "" {
		args = append(args, "--distribution-spec", spec)
	}
	out, errOut, err := Run(tb, append(args, ref)...)
	if err != nil {
		return nil, fmt.Errorf("oras %v: %w\n%s%s", args, err, out, errOut)
	}
	var n Node
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		return nil, fmt.Errorf("oras discover printed no JSON tree: %w\n%s", err, out)
	}
	return &n, nil
}
