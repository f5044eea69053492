//go:build !pipbake_agent && linux

package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// TestVerifyExitCodes: drift exits 1 (a missing receipt, current pointing
// at a release that is gone, a receipt whose sha256 is not the one
// recorded outside), errors 2.
func TestVerifyExitCodes(t *testing.T) {
	e := newPlanEnv(t)
	root := filepath.Join(e.roots, "s1")
	if _, code, err := pipbake(t, "install", "--lock", filepath.Join(e.dir, "s1.txt"), "--wheelhouse", filepath.Join(e.dir, "wheels"),
		"--root", root, "--python", e.py, "--release", "1", "--quiet"); code != 0 {
		t.Fatal(err)
	}
	rel := filepath.Join(root, "releases", "1")
	data, err := os.ReadFile(filepath.Join(rel, receipt.FileName))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--receipt-sha256", good}, 0},
		{[]string{"--receipt-sha256", strings.Repeat("0", 64)}, 1},
		{[]string{"--receipt-sha256", "xyz"}, 2},
		{[]string{"--release", "nope"}, 2},
	} {
		if _, code, err := pipbake(t, append([]string{"verify", "--root", root}, c.args...)...); code != c.code {
			t.Errorf("verify %v: exit %d, want %d (%v)", c.args, code, c.code, err)
		}
	}
	os.Rename(filepath.Join(rel, receipt.FileName), filepath.Join(rel, "saved"))
	if _, code, err := pipbake(t, "verify", "--root", root); code != 1 {
		t.Errorf("verify without a receipt: exit %d, want 1 (%v)", code, err)
	}
	os.Rename(filepath.Join(rel, "saved"), filepath.Join(rel, receipt.FileName))
	os.Rename(rel, rel+".moved")
	if _, code, err := pipbake(t, "verify", "--root", root); code != 1 {
		t.Errorf("verify with current dangling: exit %d, want 1 (%v)", code, err)
	}
}
