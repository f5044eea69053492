package tags

import (
	"strings"
	"testing"
)

func TestLinuxPlatforms(t *testing.T) {
	got := strings.Join(LinuxPlatforms("x86_64", 17, -1), " ")
	want := "manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_16_x86_64 manylinux_2_15_x86_64 manylinux_2_14_x86_64 manylinux_2_13_x86_64 manylinux_2_12_x86_64 manylinux2010_x86_64 manylinux_2_11_x86_64 manylinux_2_10_x86_64 manylinux_2_9_x86_64 manylinux_2_8_x86_64 manylinux_2_7_x86_64 manylinux_2_6_x86_64 manylinux_2_5_x86_64 manylinux1_x86_64 linux_x86_64"
	if got != want {
		t.Errorf("x86_64:\n got %s\nwant %s", got, want)
	}
	// aarch64 has no manylinux before 2_17
	if got := LinuxPlatforms("aarch64", 18, -1); strings.Join(got, " ") != "manylinux_2_18_aarch64 manylinux_2_17_aarch64 manylinux2014_aarch64 linux_aarch64" {
		t.Errorf("aarch64: %v", got)
	}
	if got := LinuxPlatforms("x86_64", -1, 2); strings.Join(got, " ") != "musllinux_1_2_x86_64 musllinux_1_1_x86_64 musllinux_1_0_x86_64 linux_x86_64" {
		t.Errorf("musl: %v", got)
	}
}

func TestSupportedOrderAndRank(t *testing.T) {
	s := Spec{Implementation: "cp", Major: 3, Minor: 11, Platforms: []string{"manylinux_2_17_x86_64", "linux_x86_64"}}
	tags := s.Supported()
	var got []string
	for _, t := range tags[:7] {
		got = append(got, t.String())
	}
	want := "cp311-cp311-manylinux_2_17_x86_64 cp311-cp311-linux_x86_64 cp311-abi3-manylinux_2_17_x86_64 cp311-abi3-linux_x86_64 cp311-none-manylinux_2_17_x86_64 cp311-none-linux_x86_64 cp310-abi3-manylinux_2_17_x86_64"
	if strings.Join(got, " ") != want {
		t.Errorf("order:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if last := tags[len(tags)-1].String(); last != "py30-none-any" {
		t.Errorf("last tag %s", last)
	}
	r := Rank(tags)
	native, _ := r.Best(Expand("cp311", "cp311", "manylinux_2_17_x86_64"))
	abi3, _ := r.Best(Expand("cp37", "abi3", "manylinux_2_17_x86_64.manylinux2014_x86_64"))
	pure, _ := r.Best(Expand("py2.py3", "none", "any"))
	if !(native < abi3 && abi3 < pure) {
		t.Errorf("ranks native %d abi3 %d pure %d", native, abi3, pure)
	}
	if _, ok := r.Best(Expand("cp312", "cp312", "manylinux_2_17_x86_64")); ok {
		t.Error("a cp312 wheel ranked for Python 3.11")
	}
	if _, ok := r.Best(Expand("cp311", "cp311", "win_amd64")); ok {
		t.Error("a Windows wheel ranked for Linux")
	}
	// free-threaded builds take no abi3
	ft := Spec{Major: 3, Minor: 13, FreeThreaded: true, Platforms: []string{"linux_x86_64"}}.Supported()
	if ft[0].ABI != "cp313t" {
		t.Errorf("free-threaded ABI %s", ft[0].ABI)
	}
	for _, x := range ft {
		if x.ABI == "abi3" {
			t.Fatalf("free-threaded spec supports %s", x)
		}
	}
}

func TestParse(t *testing.T) {
	tag, err := Parse("CP311-abi3-Linux_x86_64")
	if err != nil || tag != (Tag{"cp311", "abi3", "linux_x86_64"}) {
		t.Errorf("%v %v", tag, err)
	}
	if _, err := Parse("py3-none"); err == nil {
		t.Error("two-part tag accepted")
	}
}
