package wheel

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type member struct {
	name, body string
	mode       os.FileMode
}

// buildWheel writes a wheel by hand, so tests can make broken ones.
// RECORD is generated unless a member named "*/RECORD" is given; tamper
// changes a member's content after its RECORD row was computed.
func buildWheel(t testing.TB, dir, file string, members []member, tamper map[string]string) string {
	t.Helper()
	p := filepath.Join(dir, file)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	var record strings.Builder
	distInfo := ""
	hasRecord := false
	for _, m := range members {
		if strings.HasSuffix(m.name, ".dist-info/METADATA") {
			distInfo = strings.TrimSuffix(m.name, "/METADATA")
		}
		if strings.HasSuffix(m.name, "/RECORD") {
			hasRecord = true
		}
	}
	write := func(name, body string, mode os.FileMode) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range members {
		body := m.body
		if tb, ok := tamper[m.name]; ok {
			body = tb
		}
		write(m.name, body, m.mode)
		sum := sha256.Sum256([]byte(m.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", m.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(m.body))
	}
	if !hasRecord {
		record.WriteString(distInfo + "/RECORD,,\n")
		write(distInfo+"/RECORD", record.String(), 0o644)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

func basic(extra ...member) []member {
	ms := []member{
		{name: "demo/__init__.py", body: "VERSION = '1.0'\n"},
		{name: "demo/cli.py", body: "def main():\n    print('hi')\n"},
		{name: "demo/tool.bin", body: "\x7fELF", mode: 0o755},
		{name: "demo-1.0.data/scripts/demo-legacy", body: "#!python -u\nimport demo\nprint(demo.VERSION)\n", mode: 0o755},
		{name: "demo-1.0.data/scripts/plain.sh", body: "#!/bin/sh\necho plain\n", mode: 0o755},
		{name: "demo-1.0.data/data/share/demo/readme.txt", body: "data\n"},
		{name: "demo-1.0.data/purelib/demo_extra.py", body: "X = 1\n"},
		{name: "demo-1.0.dist-info/METADATA", body: "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nSummary: a demo\nRequires-Dist: click>=8\n"},
		{name: "demo-1.0.dist-info/WHEEL", body: "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{name: "demo-1.0.dist-info/entry_points.txt", body: "[console_scripts]\ndemo = demo.cli:main\n\n[gui_scripts]\ndemo-gui = demo.cli:main.sub\n\n[other]\nx = y:z\n"},
	}
	return append(ms, extra...)
}

func scheme(root string) Scheme {
	return Scheme{
		Purelib: filepath.Join(root, "lib/python3.11/site-packages"),
		Platlib: filepath.Join(root, "lib/python3.11/site-packages"),
		Scripts: filepath.Join(root, "bin"),
		Headers: filepath.Join(root, "include/site/python3.11"),
		Data:    root,
	}
}

func install(t *testing.T, p, root string) (*Result, error) {
	t.Helper()
	w, err := Open(p)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	in, err := w.Prepare(Options{Scheme: scheme(root), Root: root, Python: filepath.Join(root, "bin/python"), PythonVersion: [2]int{3, 11}, Installer: "pipbake", Requested: true})
	if err != nil {
		return nil, err
	}
	for _, j := range in.Jobs() {
		if err := j.Extract(); err != nil {
			return nil, err
		}
	}
	return in.Finish()
}

func TestInstallLayout(t *testing.T) {
	dir := t.TempDir()
	p := buildWheel(t, dir, "demo-1.0-py3-none-any.whl", basic(), nil)
	root := filepath.Join(dir, "env")
	res, err := install(t, p, root)
	if err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(root, "lib/python3.11/site-packages")
	read := func(p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := read(filepath.Join(sp, "demo_extra.py")); got != "X = 1\n" {
		t.Errorf(".data/purelib not spread: %q", got)
	}
	if got := read(filepath.Join(root, "share/demo/readme.txt")); got != "data\n" {
		t.Errorf(".data/data not spread: %q", got)
	}
	py := filepath.Join(root, "bin/python")
	if got := read(filepath.Join(root, "bin/demo-legacy")); got != "#!"+py+"\nimport demo\nprint(demo.VERSION)\n" {
		t.Errorf("#!python not rewritten: %q", got)
	}
	if got := read(filepath.Join(root, "bin/plain.sh")); got != "#!/bin/sh\necho plain\n" {
		t.Errorf("other shebangs must stay: %q", got)
	}
	want := "#!" + py + "\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom demo.cli import main\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(main())\n"
	if got := read(filepath.Join(root, "bin/demo")); got != want {
		t.Errorf("console script:\n%s\nwant:\n%s", got, want)
	}
	if got := read(filepath.Join(root, "bin/demo-gui")); !strings.Contains(got, "from demo.cli import main\n") || !strings.Contains(got, "sys.exit(main.sub())") {
		t.Errorf("gui script: %q", got)
	}
	for _, exe := range []string{"bin/demo", "bin/demo-legacy", "lib/python3.11/site-packages/demo/tool.bin"} {
		st, err := os.Stat(filepath.Join(root, exe))
		if err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s should be executable: %v %v", exe, st.Mode(), err)
		}
	}
	if st, _ := os.Stat(filepath.Join(sp, "demo/__init__.py")); st.Mode()&0o111 != 0 {
		t.Errorf("plain files must not be executable: %v", st.Mode())
	}
	if got := read(filepath.Join(sp, "demo-1.0.dist-info/INSTALLER")); got != "pipbake\n" {
		t.Errorf("INSTALLER = %q", got)
	}
	if _, err := os.Stat(filepath.Join(sp, "demo-1.0.dist-info/REQUESTED")); err != nil {
		t.Error(err)
	}
	rec := read(filepath.Join(sp, "demo-1.0.dist-info/RECORD"))
	for _, row := range []string{"../../../bin/demo,sha256=", "../../../bin/demo-legacy,sha256=", "demo_extra.py,sha256=", "../../../share/demo/readme.txt,sha256=", "demo-1.0.dist-info/RECORD,,", "demo-1.0.dist-info/INSTALLER,sha256="} {
		if !strings.Contains(rec, row) {
			t.Errorf("RECORD lacks %q:\n%s", row, rec)
		}
	}
	// every hashed row matches the file on disk
	for _, f := range res.Files {
		if f.SHA256 == nil {
			continue
		}
		data, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); string(sum[:]) != string(f.SHA256) {
			t.Errorf("recorded hash of %s is wrong", f.Path)
		}
	}
}

// TestPipWrappers: the pip distribution's pip entry point becomes pip,
// pip3 and pip3.X for the target Python, whatever versions the wheel
// names, as pip installs itself.
func TestPipWrappers(t *testing.T) {
	dir := t.TempDir()
	p := buildWheel(t, dir, "pip-1.0-py3-none-any.whl", []member{
		{name: "pip/__init__.py", body: "def main():\n    pass\n"},
		{name: "pip-1.0.dist-info/METADATA", body: "Metadata-Version: 2.1\nName: pip\nVersion: 1.0\n"},
		{name: "pip-1.0.dist-info/WHEEL", body: "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"},
		{name: "pip-1.0.dist-info/entry_points.txt", body: "[console_scripts]\npip = pip:main\npip3 = pip:main\npip3.8 = pip:main\n"},
	}, nil)
	root := filepath.Join(dir, "env")
	if _, err := install(t, p, root); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"pip", "pip3", "pip3.11"} {
		if _, err := os.Stat(filepath.Join(root, "bin", n)); err != nil {
			t.Errorf("pip wrapper %s: %v", n, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "bin/pip3.8")); err == nil {
		t.Error("pip3.8 from the wheel should be dropped in favour of pip3.11")
	}
}

func TestLongShebang(t *testing.T) {
	long := "/" + strings.Repeat("d", 130) + "/bin/python"
	got := string(Shebang(long))
	if got != "#!/bin/sh\n'''exec' "+long+" \"$0\" \"$@\"\n' '''\n" {
		t.Errorf("long: %q", got)
	}
	spaced := "/opt/my app/bin/python"
	if got := string(Shebang(spaced)); !strings.Contains(got, `'''exec' "/opt/my app/bin/python" "$0" "$@"`) {
		t.Errorf("spaces: %q", got)
	}
	if got := string(Shebang("/usr/bin/python3")); got != "#!/usr/bin/python3\n" {
		t.Errorf("short: %q", got)
	}
}

func TestRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		members []member
		tamper  map[string]string
		file    string
		want    string
		atOpen  bool
	}{
		"dotdot":        {members: basic(member{name: "../../evil.py", body: "x"}), want: "escapes", atOpen: true},
		"absolute":      {members: basic(member{name: "/etc/evil", body: "x"}), want: "absolute path", atOpen: true},
		"dotdot inside": {members: basic(member{name: "demo/../../x.py", body: "x"}), want: "escapes", atOpen: true},
		"symlink":       {members: basic(member{name: "demo/link", body: "/etc/passwd", mode: os.ModeSymlink | 0o777}), want: "symlink", atOpen: true},
		"data escape":   {members: basic(member{name: "demo-1.0.data/data/../../x", body: "x"}), want: "escapes", atOpen: true},
		"unknown data":  {members: basic(member{name: "demo-1.0.data/etc/x", body: "x"}), want: `unknown scheme directory "etc"`},
		"tampered":      {members: basic(), tamper: map[string]string{"demo/cli.py": "def main():\n    print('HI')\n"}, want: "RECORD mismatch"},
		"resized":       {members: basic(), tamper: map[string]string{"demo/cli.py": "import os; os.system('evil')\n"}, want: "RECORD says 28 bytes, the zip directory 29", atOpen: true},
		"no dist-info":  {members: []member{{name: "demo/__init__.py", body: ""}, {name: "x.dist-info/RECORD", body: ""}, {name: "y.dist-info/RECORD", body: ""}}, want: "exactly one .dist-info", atOpen: true},
		"bad filename":  {members: basic(), file: "demo.whl", want: "bad filename", atOpen: true},
		"name mismatch": {members: basic(), file: "other-1.0-py3-none-any.whl", want: "does not match", atOpen: true},
		"wheel version": {members: append(basic()[:8], member{name: "demo-1.0.dist-info/WHEEL", body: "Wheel-Version: 2.0\n"}), want: "Wheel-Version", atOpen: true},
		"bad entry":     {members: append(basic()[:9], member{name: "demo-1.0.dist-info/entry_points.txt", body: "[console_scripts]\nx = demo.cli\n"}), want: "callable suffix", atOpen: true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			file := tc.file
			if file == "" {
				file = "demo-1.0-py3-none-any.whl"
			}
			p := buildWheel(t, dir, file, tc.members, tc.tamper)
			root := filepath.Join(dir, "env")
			_, openErr := Open(p)
			if tc.atOpen {
				if openErr == nil || !strings.Contains(openErr.Error(), tc.want) {
					t.Fatalf("Open: want error with %q, got %v", tc.want, openErr)
				}
				if !strings.Contains(openErr.Error(), file) {
					t.Errorf("error should name the wheel: %v", openErr)
				}
				return
			}
			if openErr != nil {
				t.Fatalf("Open: %v", openErr)
			}
			_, err := install(t, p, root)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error with %q, got %v", tc.want, err)
			}
		})
	}
}

func TestMemberNotInRecord(t *testing.T) {
	dir := t.TempDir()
	ms := basic()
	var rec strings.Builder
	for _, m := range ms {
		sum := sha256.Sum256([]byte(m.body))
		fmt.Fprintf(&rec, "%s,sha256=%s,%d\n", m.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(m.body))
	}
	rec.WriteString("demo-1.0.dist-info/RECORD,,\n")
	ms = append(ms, member{name: "demo/sneaky.py", body: "x"}, member{name: "demo-1.0.dist-info/RECORD", body: rec.String()})
	p := buildWheel(t, dir, "demo-1.0-py3-none-any.whl", ms, nil)
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), `"demo/sneaky.py": is not listed in RECORD`) {
		t.Fatalf("got %v", err)
	}
}

func TestCorruptZip(t *testing.T) {
	dir := t.TempDir()
	p := buildWheel(t, dir, "demo-1.0-py3-none-any.whl", basic(), nil)
	data, _ := os.ReadFile(p)
	if err := os.WriteFile(p, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "not a readable zip") {
		t.Fatalf("got %v", err)
	}
}

func TestParseName(t *testing.T) {
	n, err := ParseName("cryptography-48.0.0-1build-cp311-abi3.cp312-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
	if err == nil {
		t.Fatalf("build tag must start with a digit: %+v", n)
	}
	n, err = ParseName("cryptography-48.0.0-2-cp311-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
	if err != nil {
		t.Fatal(err)
	}
	if n.BuildNumber() != 2 || len(n.Tags()) != 2 || n.Tags()[1].Platform != "manylinux2014_x86_64" {
		t.Errorf("%+v %v", n, n.Tags())
	}
	if !n.Matches("Cryptography", "48.0.0") || n.Matches("cryptography", "48.0.1") {
		t.Error("Matches")
	}
	if _, err := ParseName("foo-1.0.tar.gz"); err == nil {
		t.Error("sdist accepted as a wheel")
	}
}
