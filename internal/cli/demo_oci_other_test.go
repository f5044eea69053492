//go:build !pipbake_agent && !linux

package cli

import (
	"context"
	"errors"
	"testing"
)

func TestDemoOCINeedsLinux(t *testing.T) {
	err := cmdDemo(context.Background(), []string{"--oci", "--out", t.TempDir()})
	if !errors.Is(err, errOCIDemoNeedsLinux) {
		t.Fatalf("demo --oci = %v, want %v", err, errOCIDemoNeedsLinux)
	}
}
