package lockcheck

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelpack"
)

// house writes real wheels into a new folder and returns it with each
// wheel's sha256 by file name.
func house(t *testing.T, wheels ...wheelpack.Meta) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	sums := map[string]string{}
	for _, m := range wheels {
		b, err := wheelpack.New(m)
		if err != nil {
			t.Fatal(err)
		}
		mod := strings.ReplaceAll(strings.ToLower(m.Name), "-", "_")
		if err := b.Add(mod+"/__init__.py", 0o644, []byte("# "+m.Name+"\n")); err != nil {
			t.Fatal(err)
		}
		res, err := b.WriteFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		sums[res.File] = res.SHA256
	}
	return dir, sums
}

func writeLock(t *testing.T, name, text string) *lock.Lock {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func texts(errs []error) string {
	var s []string
	for _, e := range errs {
		s = append(s, e.Error())
	}
	return strings.Join(s, "\n")
}

// TestParseReportsEveryLine: an unhashed line and a range are both
// reported, each with the file and its line.
func TestParseReportsEveryLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "api.txt")
	os.WriteFile(p, []byte("flask==3.0.0\nclick>=8.0 --hash=sha256:"+strings.Repeat("a", 64)+"\n"), 0o644)
	_, err := Parse(p)
	var le *lock.Error
	if err == nil || !errors.As(err, &le) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{p + ":1: ", p + ":2: "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in %v", want, err)
		}
	}
}

func TestWheels(t *testing.T) {
	dir, sums := house(t,
		wheelpack.Meta{Name: "flask", Version: "3.0.0"},
		wheelpack.Meta{Name: "click", Version: "8.1.7"},
		wheelpack.Meta{Name: "numpy", Version: "1.26.4", Tags: []string{"cp311-cp311-manylinux_2_17_x86_64"}},
		wheelpack.Meta{Name: "tomli", Version: "2.0.0"},
	)
	h := func(file string) string { return " --hash=sha256:" + sums[file] }
	other := " --hash=sha256:" + strings.Repeat("b", 64)

	t.Run("all there", func(t *testing.T) {
		// numpy's only wheel is for another platform than this host's
		// perhaps: any platform counts here.
		l := writeLock(t, "ok.txt", "flask==3.0.0"+h("flask-3.0.0-py3-none-any.whl")+"\n"+
			"numpy==1.26.4"+h("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl")+other+"\n"+
			"colorama==0.4.6 ; sys_platform == 'win32'"+other+"\n")
		if errs, warns := Wheels(l, dir); len(errs)+len(warns) > 0 {
			t.Errorf("errs %v, warns %v", errs, warns)
		}
	})
	t.Run("problems", func(t *testing.T) {
		l := writeLock(t, "api.txt", "flaks==3.0.0"+other+"\n"+ // typo
			"click==8.1.8"+other+"\n"+ // version not there
			"flask==3.0.0"+other+"\n"+ // hash does not match
			"tomli==2.0.1 ; python_version < '3.11'"+other+"\n") // only some need it
		errs, warns := Wheels(l, dir)
		got := texts(errs)
		for _, want := range []string{
			l.Path + ":1: flaks==3.0.0: no wheel of flaks in " + dir + " (did you mean flask?)",
			l.Path + ":2: click==8.1.8: no wheel of version 8.1.8 in " + dir + " (versions there: 8.1.7)",
			l.Path + ":3: flask==3.0.0: " + filepath.Join(dir, "flask-3.0.0-py3-none-any.whl") + " has sha256 " + sums["flask-3.0.0-py3-none-any.whl"] + ", which the lock does not allow",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("no\n  %s\nin\n  %s", want, got)
			}
		}
		if len(errs) != 3 || len(warns) != 1 || !strings.Contains(warns[0].Error(), l.Path+":4: tomli==2.0.1: no wheel of version 2.0.1") ||
			!strings.Contains(warns[0].Error(), "needed only where python_version < '3.11'") {
			t.Errorf("errs %d, warns %v", len(errs), warns)
		}
	})
	t.Run("several folders", func(t *testing.T) {
		dir2, sums2 := house(t, wheelpack.Meta{Name: "click", Version: "8.1.8"})
		l := writeLock(t, "two.txt", "click==8.1.8 --hash=sha256:"+sums2["click-8.1.8-py3-none-any.whl"]+"\n")
		if errs, _ := Wheels(l, dir, dir2); len(errs) > 0 {
			t.Errorf("errs %v", errs)
		}
		if errs, _ := Wheels(l, dir); len(errs) != 1 {
			t.Errorf("one folder: errs %v", errs)
		}
	})
	t.Run("pylock lists its wheels", func(t *testing.T) {
		f := "flask-3.0.0-py3-none-any.whl"
		text := fmt.Sprintf(`lock-version = "1.0"
created-by = "test"

[[packages]]
name = "flask"
version = "3.0.0"
wheels = [{name = "flask-3.0.0-py2.py3-none-any.whl", url = "https://example.org/flask-3.0.0-py2.py3-none-any.whl", hashes = {sha256 = "%s"}}]
`, sums[f])
		l := writeLock(t, "pylock.toml", text)
		errs, _ := Wheels(l, dir)
		if !strings.Contains(texts(errs), "pylock.toml:4: flask==3.0.0: no wheel the lock lists in "+dir+" (there: "+f+", which it does not list)") {
			t.Errorf("errs %v", errs)
		}
	})
	t.Run("symlinked wheel", func(t *testing.T) {
		linked := t.TempDir()
		f := "flask-3.0.0-py3-none-any.whl"
		if err := os.Symlink(filepath.Join(dir, f), filepath.Join(linked, f)); err != nil {
			t.Fatal(err)
		}
		l := writeLock(t, "ln.txt", "flask==3.0.0"+h(f)+"\n")
		if errs, warns := Wheels(l, linked); len(errs)+len(warns) > 0 {
			t.Errorf("errs %v, warns %v", errs, warns)
		}
		// and a symlinked folder
		ln := filepath.Join(t.TempDir(), "wheels")
		if err := os.Symlink(linked, ln); err != nil {
			t.Fatal(err)
		}
		if errs, warns := Wheels(l, ln); len(errs)+len(warns) > 0 {
			t.Errorf("symlinked folder: errs %v, warns %v", errs, warns)
		}
	})
	t.Run("sources read subfolders", func(t *testing.T) {
		top := t.TempDir()
		sub, _ := house(t, wheelpack.Meta{Name: "click", Version: "8.1.7"})
		if err := os.Rename(sub, filepath.Join(top, "click")); err != nil {
			t.Fatal(err)
		}
		os.Mkdir(filepath.Join(top, ".hidden"), 0o755)
		l := writeLock(t, "sub.txt", "click==8.1.7"+h("click-8.1.7-py3-none-any.whl")+"\n")
		if errs, _ := Sources(l, top); len(errs) > 0 {
			t.Errorf("sources: %v", errs)
		}
		if errs, _ := Wheels(l, top); len(errs) != 1 {
			t.Errorf("a wheelhouse is flat: %v", errs)
		}
	})
	t.Run("missing folder", func(t *testing.T) {
		l := writeLock(t, "x.txt", "flask==3.0.0"+other+"\n")
		if errs, _ := Wheels(l, filepath.Join(dir, "nope")); len(errs) != 1 || !strings.Contains(errs[0].Error(), "list wheels in") {
			t.Errorf("errs %v", errs)
		}
	})
}
