package wheelhouse

import (
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/tags"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

func names(t *testing.T, files ...string) []wheel.Name {
	t.Helper()
	var out []wheel.Name
	for _, f := range files {
		n, err := wheel.ParseName(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func TestBestAndForPin(t *testing.T) {
	spec := tags.Spec{Implementation: "cp", Major: 3, Minor: 11, Platforms: tags.LinuxPlatforms("x86_64", 36, -1)}
	rank := tags.Rank(spec.Supported())
	all := names(t,
		"demo-1.0-py3-none-any.whl",
		"demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		"demo-1.0-cp311-cp311-musllinux_1_1_x86_64.whl",
		"demo-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl",
		"demo-2.0-py3-none-any.whl",
		"other-1.0-py3-none-any.whl",
	)
	cands := ForPin(lock.Pin{Name: "Demo", Version: "1.0.0"}, all)
	if len(cands) != 4 {
		t.Fatalf("ForPin: %v", cands)
	}
	i, ok := Best(cands, rank)
	if !ok || cands[i].File != "demo-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl" {
		t.Fatalf("Best = %d %v, want the build-1 manylinux wheel", i, ok)
	}
	// A pylock pin allows only the files it lists.
	pin := lock.Pin{Name: "demo", Version: "1.0", Wheels: []lock.File{{Name: "demo-1.0-py3-none-any.whl"}}}
	cands = ForPin(pin, all)
	if len(cands) != 1 || cands[0].File != "demo-1.0-py3-none-any.whl" {
		t.Fatalf("ForPin pylock: %v", cands)
	}
	if _, ok := Best(names(t, "demo-1.0-cp311-cp311-musllinux_1_1_x86_64.whl"), rank); ok {
		t.Fatal("a musllinux wheel fits a glibc target")
	}
}
