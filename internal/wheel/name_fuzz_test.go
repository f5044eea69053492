package wheel

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseName: no name makes ParseName panic; a name it accepts is a
// plain file name that stays in any folder it is joined to, and its parts
// put back together give the name again.
func FuzzParseName(f *testing.F) {
	for _, s := range append(hostileNames,
		"cryptography-48.0.0-1build-cp311-abi3.cp312-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		"six-1.17.0-py2.py3-none-any.whl", "foo-1.0.tar.gz", "a-b-c-d-e.whl", "-----.whl", ".whl", "x-1-2-py3-none-any.whl",
		"x-1.0-py3-none-any.whl/", "x-1.0-py3-none-any.whl\x00", "C:x-1.0-py3-none-any.whl") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		n, err := ParseName(file)
		if err != nil {
			return
		}
		if err := CheckFileName(file); err != nil {
			t.Fatalf("ParseName accepted %q, CheckFileName refuses it: %v", file, err)
		}
		dir := "/srv/wheelhouse"
		if p := filepath.Join(dir, file); filepath.Dir(p) != dir || filepath.Base(p) != file {
			t.Fatalf("%q joined to %s is %s", file, dir, p)
		}
		parts := []string{n.Distribution, n.Version}
		if n.Build != "" {
			parts = append(parts, n.Build)
		}
		parts = append(parts, n.Python, n.ABI, n.Platform)
		for _, p := range parts {
			if p == "" || strings.Contains(p, "-") {
				t.Fatalf("%q: part %q", file, p)
			}
		}
		if back := strings.Join(parts, "-") + ".whl"; back != file || n.File != file {
			t.Fatalf("%q parsed to %+v, which gives %q", file, n, back)
		}
		n.Tags()
		n.BuildNumber()
	})
}
