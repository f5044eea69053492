package wheel

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteBytecode: the jobs of .py modules in purelib and platlib are
// the Python ones; WriteBytecode puts a .pyc where the interpreter looks
// for it, with the compiler's mode (a source with execute bits gives a
// .pyc without), replacing a file the wheel ships there, and RECORD lists
// it with its hash and size.
func TestWriteBytecode(t *testing.T) {
	dir := t.TempDir()
	p := buildWheel(t, dir, "demo-1.0-py3-none-any.whl", basic(
		member{name: "demo/run.me.py", body: "X = 2\n", mode: 0o755},
		member{name: "demo/__pycache__/cli.cpython-311.pyc", body: "shipped"},
	), nil)
	root := filepath.Join(dir, "env")
	w, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	in, err := w.Prepare(Options{Scheme: scheme(root), Root: root, Python: filepath.Join(root, "bin/python"), PythonVersion: [2]int{3, 11}, Installer: "pipbake"})
	if err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(root, "lib/python3.11/site-packages")
	var python []string
	for _, j := range in.Jobs() {
		if err := j.Extract(); err != nil {
			t.Fatal(err)
		}
		if j.Python {
			python = append(python, strings.TrimPrefix(j.Dest, sp+"/"))
		}
	}
	if strings.Join(python, " ") != "demo/__init__.py demo/cli.py demo/run.me.py demo_extra.py" {
		t.Fatalf("python jobs %v", python)
	}
	pyc := []byte("\xa7\x0d\x0d\x0a\x01\x00\x00\x00bytecode")
	sum := sha256.Sum256(pyc)
	for _, j := range in.Jobs() {
		if !j.Python {
			continue
		}
		if j.RecordSHA256() == nil {
			t.Errorf("%s: no RECORD sha256", j.Dest)
		}
		if err := j.WriteBytecode("cpython-311", pyc, sum[:]); err != nil {
			t.Fatal(err)
		}
	}
	res, err := in.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]os.FileMode{
		"demo/__pycache__/cli.cpython-311.pyc":    0o644,
		"demo/__pycache__/run.me.cpython-311.pyc": 0o644,
		"__pycache__/demo_extra.cpython-311.pyc":  0o644,
	} {
		p := filepath.Join(sp, rel)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want &^= umask(); st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", rel, st.Mode().Perm(), want)
		}
		if data, _ := os.ReadFile(p); string(data) != string(pyc) {
			t.Errorf("%s holds %q", rel, data)
		}
	}
	record, _ := os.ReadFile(filepath.Join(res.DistInfo, "RECORD"))
	row := "demo/__pycache__/cli.cpython-311.pyc," + EncodeDigest("sha256", sum[:]) + ",16\n"
	if !strings.Contains(string(record), row) {
		t.Errorf("RECORD lacks %q:\n%s", row, record)
	}
}
