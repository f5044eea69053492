package wheelhouse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/tags"
)

func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var cp311 = tags.Spec{Implementation: "cp", Major: 3, Minor: 11, Platforms: tags.LinuxPlatforms("x86_64", 36, -1)}.Supported()

func TestChooseBest(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir,
		"cryptography-48.0.0-cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		"cryptography-48.0.0-cp311-abi3-manylinux_2_34_x86_64.whl",
		"cryptography-48.0.0-cp311-abi3-win_amd64.whl",
		"cryptography-47.0.0-cp311-abi3-manylinux_2_34_x86_64.whl",
		"MarkupSafe-3.0.3-cp311-cp311-manylinux_2_17_x86_64.whl",
		"markupsafe-3.0.3-py3-none-any.whl",
		"six-1.17.0-py2.py3-none-any.whl",
		"six-1.17.0-1-py2.py3-none-any.whl",
		"README.txt")
	h, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	pins := []lock.Pin{{Name: "cryptography", Version: "48.0.0"}, {Name: "markupsafe", Version: "3.0.3"}, {Name: "Six", Version: "1.17.0"}}
	got, err := h.Choose(pins, cp311)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cryptography-48.0.0-cp311-abi3-manylinux_2_34_x86_64.whl", // newer manylinux first
		"MarkupSafe-3.0.3-cp311-cp311-manylinux_2_17_x86_64.whl",   // binary over pure
		"six-1.17.0-1-py2.py3-none-any.whl",                        // higher build number
	}
	for i, c := range got {
		if c.Name.File != want[i] {
			t.Errorf("pin %s: chose %s, want %s", c.Pin.Name, c.Name.File, want[i])
		}
	}
}

func TestChooseReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "cryptography-48.0.0-cp312-abi3-win_amd64.whl", "flask-3.0.0-py3-none-any.whl")
	h, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Choose([]lock.Pin{{Name: "cryptography", Version: "48.0.0"}, {Name: "flask", Version: "3.1.3"}, {Name: "six", Version: "1.17.0"}, {Name: "Flaks", Version: "3.0.0"}}, cp311)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{
		"cryptography==48.0.0: no wheel fits this interpreter; it needs one of the tags cp311-cp311-manylinux_2_36_x86_64",
		"the wheelhouse has cryptography-48.0.0-cp312-abi3-win_amd64.whl",
		"flask==3.1.3: no wheel in " + dir + " (other versions there: flask-3.0.0-py3-none-any.whl)",
		"six==1.17.0: no wheel in " + dir + "\n",
		"Flaks==3.0.0: no wheel in " + dir + " (did you mean flask?)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestPylockRestrictsFiles(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "six-1.17.0-py2.py3-none-any.whl", "six-1.17.0-1-py2.py3-none-any.whl")
	h, _ := Open(dir)
	got, err := h.Choose([]lock.Pin{{Name: "six", Version: "1.17.0", Wheels: []lock.File{{Name: "six-1.17.0-py2.py3-none-any.whl"}}}}, cp311)
	if err != nil || got[0].Name.File != "six-1.17.0-py2.py3-none-any.whl" {
		t.Fatalf("pylock's listed wheel must be used: %v %v", got, err)
	}
}

func TestIndex(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "six-1.17.0-py2.py3-none-any.whl")
	os.WriteFile(filepath.Join(dir, IndexName), []byte(`{"schema":1,"wheels":[{"name":"six","version":"1.17.0","file":"six-1.17.0-py2.py3-none-any.whl","sha256":"ab"}]}`), 0o644)
	h, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.Choose([]lock.Pin{{Name: "six", Version: "1.17.0"}}, cp311)
	if err != nil || got[0].SHA256 != "ab" {
		t.Fatalf("%v %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, IndexName), []byte(`{"schema":1,"wheels":[{"file":"../../etc/passwd"}]}`), 0o644)
	if _, err := Open(dir); err == nil {
		t.Fatal("an index entry outside the folder was accepted")
	}
}
