package oci_test

import (
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/builder/oci"
)

func TestPrepareReportsEveryProblem(t *testing.T) {
	var b oci.Builder
	_, _, err := b.Prepare(map[string]interface{}{"compression": "lz4", "rootfs": "zfs", "platform": "linux", "exposed_ports": []string{""}, "family": "my app"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"base: required", "target or output_oci_layout", "compression: \"lz4\"", "rootfs: \"zfs\"", "platform:", "exposed_ports", `family "my app"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestPrepareDefaults(t *testing.T) {
	var b oci.Builder
	_, warns, err := b.Prepare(map[string]interface{}{"base": "debian:bookworm", "target": "127.0.0.1:5000/app:1", "cache_dir": t.TempDir()})
	if err != nil || len(warns) != 0 {
		t.Fatal(err, warns)
	}
	if spec := b.ConfigSpec(); spec["layer_per_set"] == nil || spec["output_oci_layout"] == nil || spec["base"] == nil {
		t.Errorf("HCL2 spec lacks fields: %v", spec)
	}
}
