package wheel

import (
	"path/filepath"
	"strings"
	"testing"
)

// hostileNames parse as five or six dash-separated parts ending in .whl,
// yet are no plain file name: each would leave (or hide in) the folder it
// is joined to.
var hostileNames = []string{
	"hostile-1.0-py3./../../X-none-any.whl",
	"hostile-1.0-py3-none-any/../../../x.whl",
	`hostile-1.0-py3.\..\..\X-none-any.whl`,
	"hostile-1.0-py3-none-..any.whl",
	"..hostile-1.0-py3-none-any.whl",
	".hostile-1.0-py3-none-any.whl",
	"/etc/hostile-1.0-py3-none-any.whl",
	"hostile-1.0-py3-none-any\x00.whl",
	"hostile-1.0-py3-none-an\ny.whl",
}

// TestParseNameRefusesPaths: a wheel file name with "/", "\", "..", a
// control character or a leading dot is refused with an error that quotes
// it and says why. (Before, all of these parsed.)
func TestParseNameRefusesPaths(t *testing.T) {
	for _, name := range hostileNames {
		_, err := ParseName(name)
		if err == nil {
			t.Errorf("ParseName(%q) succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "wheel filename") {
			t.Errorf("ParseName(%q): unclear error %q", name, err)
		}
		if CheckFileName(name) == nil {
			t.Errorf("CheckFileName(%q) accepted it", name)
		}
	}
	// Real names stay accepted, including local versions, epochs and
	// compressed tag sets.
	for _, name := range []string{
		"torch-2.2.0+cpu-cp311-cp311-linux_x86_64.whl",
		"foo-1!2.0-py2.py3-none-any.whl",
		"six-1.17.0-1-py2.py3-none-any.whl",
		"cryptography-48.0.0-cp311-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
	} {
		if _, err := ParseName(name); err != nil {
			t.Errorf("ParseName(%q): %v", name, err)
		}
		if filepath.Base(name) != name {
			t.Fatalf("test name %q is not a base name", name)
		}
	}
}
