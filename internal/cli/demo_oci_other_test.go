//go:build !pipbake_agent && !linux

package cli

import (
	"context"
	"errors"
	"io"
	"testing"
)

func TestDemoOCINeedsLinux(t *testing.T) {
	err := cmdDemo(context.Background(), stdio{stdout: io.Discard, stderr: io.Discard}, []string{"--oci", "--out", t.TempDir()})
	if !errors.Is(err, errOCIDemoNeedsLinux) {
		t.Fatalf("demo --oci = %v, want %v", err, errOCIDemoNeedsLinux)
	}
}
