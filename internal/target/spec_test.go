package target

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestDescriptionMatchesProbe describes each interpreter by its version,
// platform and ABI and checks that the tags and markers equal the probe's.
func TestDescriptionMatchesProbe(t *testing.T) {
	for _, py := range interpreters(t) {
		t.Run(py, func(t *testing.T) {
			tg, err := Probe(context.Background(), py)
			if err != nil {
				t.Fatal(err)
			}
			probed, err := tg.Tags()
			if err != nil {
				t.Fatal(err)
			}
			spec := tg.mustSpec(t)
			d := Description{
				PythonVersion: tg.VersionFull,
				Platforms:     []string{spec.Platforms[0]},
				ABI:           spec.ABIs[0],
			}
			got, err := d.Tags()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, probed) {
				t.Fatalf("described tags differ from probed:\n got %d: %v\nwant %d: %v", len(got), got[:5], len(probed), probed[:5])
			}
			env, err := d.Markers()
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tg.Markers {
				if k == "platform_release" || k == "platform_version" {
					continue
				}
				if env[k] != v {
					t.Errorf("marker %s = %q, probe says %q", k, env[k], v)
				}
			}
		})
	}
}

func TestDescriptionErrors(t *testing.T) {
	for _, tc := range []struct {
		d    Description
		want string
	}{
		{Description{PythonVersion: "3", Platforms: []string{"linux_x86_64"}}, "want MAJOR.MINOR"},
		{Description{PythonVersion: "2.7", Platforms: []string{"linux_x86_64"}}, "3.6 or newer"},
		{Description{PythonVersion: "3.11"}, "no platform"},
		{Description{PythonVersion: "3.11", Platforms: []string{"manylinux_2_17_x86_64-x"}}, "one platform tag"},
		{Description{PythonVersion: "3.11", Platforms: []string{"linux_x86_64"}, ABI: "cp3.11"}, "ABI tag"},
	} {
		_, err := tc.d.Tags()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.d, err, tc.want)
		}
	}
	// legacy aliases and musl expand like a machine of that libc
	d := Description{PythonVersion: "3.12", Platforms: []string{"manylinux2014_aarch64", "musllinux_1_2_aarch64"}}
	s, err := d.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.Platforms); !strings.HasPrefix(got, "[manylinux_2_17_aarch64 manylinux2014_aarch64 linux_aarch64 musllinux_1_2_aarch64") {
		t.Fatalf("platforms %s", got)
	}
	env, _ := d.Markers()
	if env["platform_machine"] != "aarch64" || env["python_full_version"] != "3.12.0" {
		t.Fatalf("markers %v", env)
	}
}
