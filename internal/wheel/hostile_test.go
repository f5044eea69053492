package wheel

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rawMember is a member written with exactly the headers given.
type rawMember struct {
	name string
	// content is what the member inflates to; declared is the size the
	// headers claim (the content's when 0).
	content  []byte
	declared uint64
}

// rawWheel writes a wheel whose members' headers are set by hand, with a
// RECORD whose rows are given.
func rawWheel(t *testing.T, dir string, members []rawMember, record string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(m rawMember) {
		var comp bytes.Buffer
		fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
		fw.Write(m.content)
		fw.Close()
		size := m.declared
		if size == 0 {
			size = uint64(len(m.content))
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(m.content),
			CompressedSize64: uint64(comp.Len()), UncompressedSize64: size})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	meta := []byte("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
	wheelFile := []byte("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
	for _, m := range members {
		add(m)
	}
	add(rawMember{name: "demo-1.0.dist-info/METADATA", content: meta})
	add(rawMember{name: "demo-1.0.dist-info/WHEEL", content: wheelFile})
	record += recordRow("demo-1.0.dist-info/METADATA", string(meta)) + recordRow("demo-1.0.dist-info/WHEEL", string(wheelFile)) + "demo-1.0.dist-info/RECORD,,\n"
	add(rawMember{name: "demo-1.0.dist-info/RECORD", content: []byte(record)})
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "demo-1.0-py3-none-any.whl")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSizesCheckedBeforeWriting (issue 11.5): a member whose zip headers
// declare 16 MiB (and hold that much, compressed to almost nothing) while
// RECORD says 100 bytes is refused when the wheel is opened, before a
// byte is written; content longer than the headers declare is cut off at
// the declared size; local headers that disagree with the central
// directory are refused. With -short (make check, under -race, where
// 16 MiB took 1.7 s of CPU, 0.5 s with 1 MiB) the member is 1 MiB.
func TestSizesCheckedBeforeWriting(t *testing.T) {
	zeros := make([]byte, 16<<20)
	if testing.Short() {
		zeros = zeros[:1<<20]
	}
	size := strconv.Itoa(len(zeros))
	t.Run("record says less than the zip", func(t *testing.T) {
		dir := t.TempDir()
		p := rawWheel(t, dir, []rawMember{{name: "demo/big.bin", content: zeros}},
			strings.Replace(recordRow("demo/big.bin", string(zeros)), ","+size, ",100", 1))
		// Refused by Open, from the zip directory and RECORD: before a
		// byte of the member is read.
		w, err := Open(p)
		if err == nil {
			defer w.Close()
			_, err = install(t, p, filepath.Join(dir, "env"))
			t.Fatalf("opened (install: %v); want the sizes refused before anything is written", err)
		}
		if !strings.Contains(err.Error(), `member "demo/big.bin": RECORD says 100 bytes, the zip directory `+size) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("content longer than declared", func(t *testing.T) {
		dir := t.TempDir()
		p := rawWheel(t, dir, []rawMember{{name: "demo/big.bin", content: zeros, declared: 100}},
			strings.Replace(recordRow("demo/big.bin", string(zeros)), ","+size, ",100", 1))
		root := filepath.Join(dir, "env")
		_, err := install(t, p, root)
		if err == nil || !strings.Contains(err.Error(), "demo/big.bin") {
			t.Fatalf("got %v, want the member refused", err)
		}
		st, serr := os.Stat(filepath.Join(root, "lib/python3.11/site-packages/demo/big.bin"))
		if serr == nil && st.Size() > 100 {
			t.Errorf("wrote %d bytes of a member declared as 100", st.Size())
		}
	})
	t.Run("local header disagrees", func(t *testing.T) {
		body := []byte("print('hello')\n")
		for _, c := range []struct {
			field int // offset in the local header
			want  string
		}{
			{22, "the local header says 16 bytes, the central directory 15"},
			{14, "the local header says CRC-32"},
			{8, "the local header says compression method"},
		} {
			dir := t.TempDir()
			p := rawWheel(t, dir, []rawMember{{name: "demo/__init__.py", content: body}}, recordRow("demo/__init__.py", string(body)))
			data, _ := os.ReadFile(p)
			if binary.LittleEndian.Uint32(data) != 0x04034b50 {
				t.Fatal("the first member's local header is not at 0")
			}
			switch c.field {
			case 22:
				binary.LittleEndian.PutUint32(data[22:], uint32(len(body)+1))
			case 14:
				data[14] ^= 0xff
			case 8:
				binary.LittleEndian.PutUint16(data[8:], zip.Store)
			}
			os.WriteFile(p, data, 0o644)
			_, err := Open(p)
			if err == nil || !strings.Contains(err.Error(), `member "demo/__init__.py": inconsistent zip headers`) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("field %d: got %v, want %q", c.field, err, c.want)
			}
		}
	})
	t.Run("local name differs", func(t *testing.T) {
		body := []byte("print('hello')\n")
		dir := t.TempDir()
		p := rawWheel(t, dir, []rawMember{{name: "demo/__init__.py", content: body}}, recordRow("demo/__init__.py", string(body)))
		data, _ := os.ReadFile(p)
		copy(data[30:], "demo/__evil__.py") // same length, another name
		os.WriteFile(p, data, 0o644)
		if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "no local header names it") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestEnvironmentNotReplaced (issue 11.8): an entry point or a .data file
// that would replace the environment's interpreter, activate scripts,
// pyvenv.cfg or pip is refused before anything is written, and the
// environment's files stay as they were.
func TestEnvironmentNotReplaced(t *testing.T) {
	ok := "argcomplete's activate-global-python-argcomplete"
	for _, c := range []struct {
		name   string
		extra  []member
		entry  string // entry_points.txt
		refuse string
	}{
		{name: "console python", entry: "[console_scripts]\npython = demo:main\n", refuse: `entry point "python" would replace the environment's interpreter bin/python`},
		{name: "console python3", entry: "[console_scripts]\npython3 = demo:main\n", refuse: `entry point "python3" would replace`},
		{name: "gui python3.12", entry: "[gui_scripts]\npython3.12 = demo:main\n", refuse: `entry point "python3.12" would replace`},
		{name: "console activate", entry: "[console_scripts]\nactivate = demo:main\n", refuse: `entry point "activate" would replace the environment's activate script`},
		{name: "console Activate.ps1", entry: "[console_scripts]\nActivate.ps1 = demo:main\n", refuse: `entry point "Activate.ps1" would replace`},
		{name: "console activate.fish", entry: "[console_scripts]\nactivate.fish = demo:main\n", refuse: `entry point "activate.fish" would replace`},
		{name: "console pip", entry: "[console_scripts]\npip = demo:main\n", refuse: `entry point "pip" would replace pip's bin/pip (only the pip distribution may install it)`},
		{name: "console pip3.11", entry: "[console_scripts]\npip3.11 = demo:main\n", refuse: `entry point "pip3.11" would replace`},
		{name: "script python3", extra: []member{{name: "demo-1.0.data/scripts/python3", body: "#!/bin/sh\n", mode: 0o755}}, refuse: `script "python3" would replace the environment's interpreter bin/python3`},
		{name: "data pyvenv.cfg", extra: []member{{name: "demo-1.0.data/data/pyvenv.cfg", body: "home = /tmp/evil\n"}}, refuse: "would overwrite"},
		{name: "data bin/python", extra: []member{{name: "demo-1.0.data/data/bin/python", body: "#!/bin/sh\n"}}, refuse: "would overwrite"},
		{name: "data bin/python3.12", extra: []member{{name: "demo-1.0.data/data/bin/python3.12", body: "#!/bin/sh\n"}}, refuse: "which would replace the environment's interpreter bin/python3.12"},
		{name: "data through lib64", extra: []member{{name: "demo-1.0.data/data/lib64/python3.11/site-packages/x.py", body: ""}}, refuse: "lib64, a file of the environment itself"},
		{name: ok, entry: "[console_scripts]\nactivate-global-python-argcomplete = demo:main\npython-demo = demo:main\npipx = demo:main\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "env")
			sc := scheme(root)
			os.MkdirAll(sc.Scripts, 0o755)
			os.MkdirAll(filepath.Join(root, "lib"), 0o755)
			envFiles := map[string]string{"bin/python": "", "bin/python3": "", "bin/python3.11": "", "bin/activate": "# activate\n",
				"bin/activate.fish": "# fish\n", "bin/Activate.ps1": "# ps\n", "pyvenv.cfg": "home = /usr/bin\n", "lib64": ""}
			var abs []string
			for rel, content := range envFiles {
				p := filepath.Join(root, rel)
				abs = append(abs, p)
				switch {
				case rel == "lib64":
					os.Symlink("lib", p)
				case strings.HasPrefix(rel, "bin/python"):
					os.Symlink("/usr/bin/python3", p)
				default:
					os.WriteFile(p, []byte(content), 0o644)
				}
			}
			ms := small("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n", c.extra...)
			ms[0].body = "def main():\n    pass\n"
			if c.entry != "" {
				ms = append(ms, member{name: "demo-1.0.dist-info/entry_points.txt", body: c.entry})
			}
			p := buildWheel(t, dir, "demo-1.0-py3-none-any.whl", ms, nil)
			w, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			in, err := w.Prepare(Options{Scheme: sc, Root: root, Python: filepath.Join(root, "bin/python"), PythonVersion: [2]int{3, 11}, EnvFiles: abs})
			if err == nil {
				for _, j := range in.Jobs() {
					if err = j.Extract(); err != nil {
						break
					}
				}
				if err == nil {
					_, err = in.Finish()
				}
			}
			if c.refuse == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), c.refuse) || !strings.Contains(err.Error(), "demo-1.0-py3-none-any.whl") {
				t.Fatalf("got %v, want an error naming the wheel with %q", err, c.refuse)
			}
			for rel, content := range envFiles {
				p := filepath.Join(root, rel)
				if to, err := os.Readlink(p); err == nil {
					if to != "lib" && to != "/usr/bin/python3" {
						t.Errorf("%s now links to %q", rel, to)
					}
					continue
				}
				if got, err := os.ReadFile(p); err != nil || string(got) != content {
					t.Errorf("%s replaced: %q, %v", rel, got, err)
				}
			}
			if c.refuse != "" {
				if ents, _ := os.ReadDir(filepath.Join(root, "lib")); len(ents) != 0 {
					t.Errorf("files written before the refusal: %v", ents)
				}
			}
		})
	}
}
