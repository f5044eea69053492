package corpus_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// checkWheel re-reads a wheel with archive/zip and checks, independently of
// wheelpack, that its RECORD matches every entry's content, and that
// repacking left no bytecode or installer-only metadata behind.
func checkWheel(w corpus.Wheel) error {
	raw, err := os.ReadFile(w.Path)
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != w.SHA256 || int64(len(raw)) != w.Size {
		return fmt.Errorf("file digest/size differ from the Set's %s/%d", w.SHA256, w.Size)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return err
	}
	stem := pyname.WheelEscape(w.Name) + "-" + w.Version
	if !strings.HasPrefix(w.File, stem+"-") {
		return fmt.Errorf("filename does not start with %s", stem)
	}
	distInfo := stem + ".dist-info/"
	content := map[string][]byte{}
	for i, f := range zr.File {
		switch base := f.Name[strings.LastIndex(f.Name, "/")+1:]; {
		case strings.Contains(f.Name, "__pycache__/"), strings.HasSuffix(f.Name, ".pyc"):
			return fmt.Errorf("%s: bytecode in the wheel", f.Name)
		case strings.HasPrefix(f.Name, distInfo) && (base == "INSTALLER" || base == "REQUESTED" || base == "direct_url.json"):
			return fmt.Errorf("%s: installer metadata in the wheel", f.Name)
		case strings.Contains(f.Name, ".dist-info/") && !strings.HasPrefix(f.Name, distInfo):
			return fmt.Errorf("%s: foreign .dist-info", f.Name)
		case i == len(zr.File)-1 && f.Name != distInfo+"RECORD":
			return fmt.Errorf("last entry is %s, not RECORD", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		content[f.Name] = b
	}
	rows, err := csv.NewReader(bytes.NewReader(content[distInfo+"RECORD"])).ReadAll()
	if err != nil {
		return fmt.Errorf("RECORD: %w", err)
	}
	if len(rows) != len(content) {
		return fmt.Errorf("RECORD has %d rows for %d entries", len(rows), len(content))
	}
	for _, row := range rows {
		b, ok := content[row[0]]
		switch {
		case !ok:
			return fmt.Errorf("RECORD lists missing %s", row[0])
		case row[0] == distInfo+"RECORD":
			if row[1] != "" || row[2] != "" {
				return fmt.Errorf("RECORD row for itself: %q", row)
			}
			continue
		}
		sum := sha256.Sum256(b)
		if want := "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]); row[1] != want || row[2] != strconv.Itoa(len(b)) {
			return fmt.Errorf("%s: RECORD says %s,%s; content is %s,%d", row[0], row[1], row[2], want, len(b))
		}
	}
	if _, ok := content[distInfo+"WHEEL"]; !ok {
		return fmt.Errorf("no WHEEL")
	}
	return nil
}

func TestCorpusWheelsAreConsistent(t *testing.T) {
	set := corpustest.Set(t)
	if len(set.Wheels) < 85 {
		t.Errorf("corpus has %d wheels, want at least 85", len(set.Wheels))
	}
	if len(set.Skipped) > 0 {
		t.Errorf("skipped distributions: %q", set.Skipped)
	}
	var mu sync.Mutex
	work := make(chan corpus.Wheel)
	var wg sync.WaitGroup
	for i := 0; i < runtime.NumCPU(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range work {
				if err := checkWheel(w); err != nil {
					mu.Lock()
					t.Errorf("%s: %v", w.File, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, w := range set.Wheels {
		work <- w
	}
	close(work)
	wg.Wait()
}

func TestCorpusWarmRepackReuses(t *testing.T) {
	set := corpustest.Set(t)
	before := map[string]os.FileInfo{}
	for _, w := range set.Wheels {
		fi, err := os.Stat(w.Path)
		if err != nil {
			t.Fatal(err)
		}
		before[w.File] = fi
	}
	again, err := corpus.Repack(context.Background(), corpus.Options{Python: set.Python, Dir: set.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Wheels) != len(set.Wheels) {
		t.Fatalf("second repack: %d wheels, first %d", len(again.Wheels), len(set.Wheels))
	}
	for i, w := range again.Wheels {
		fi, err := os.Stat(w.Path)
		if err != nil || !os.SameFile(fi, before[w.File]) || w != set.Wheels[i] {
			t.Errorf("%s was rebuilt or changed on a warm repack", w.File)
		}
	}
}

func TestCorpusFlaskWheel(t *testing.T) {
	set := corpustest.Set(t)
	w, ok := set.Get("FLASK")
	if !ok {
		t.Fatal("no flask wheel")
	}
	if w.File != "flask-3.1.3-py3-none-any.whl" {
		t.Errorf("flask file = %s", w.File)
	}
	files := zipContents(t, w.Path)
	for _, want := range []string{"flask/__init__.py", "flask-3.1.3.dist-info/entry_points.txt", "flask-3.1.3.dist-info/METADATA"} {
		if files[want] == nil {
			t.Errorf("flask wheel lacks %s", want)
		}
	}
	for name := range files {
		if strings.Contains(name, "__pycache__") || strings.Contains(name, ".data/") {
			t.Errorf("flask wheel has %s (bytecode, or the console-script wrapper bin/flask)", name)
		}
	}
}

func TestCorpusCryptographyWheel(t *testing.T) {
	set := corpustest.Set(t)
	w, ok := set.Get("cryptography")
	if !ok {
		t.Fatal("no cryptography wheel")
	}
	files := zipContents(t, w.Path)
	var so []string
	for name := range files {
		if strings.HasSuffix(name, ".so") {
			so = append(so, name)
		}
	}
	if len(so) == 0 {
		t.Error("cryptography wheel has no .so")
	}
	wheel := readZip(t, files["cryptography-"+w.Version+".dist-info/WHEEL"])
	if !strings.Contains(wheel, "Root-Is-Purelib: false") || strings.Contains(w.File, "-none-any") {
		t.Errorf("cryptography %s WHEEL:\n%s", w.File, wheel)
	}
}

func TestCorpusScriptsAndData(t *testing.T) {
	set := corpustest.Set(t)
	get := func(name string) map[string]*zip.File {
		w, ok := set.Get(name)
		if !ok {
			t.Fatalf("no %s wheel", name)
		}
		return zipContents(t, w.Path)
	}
	aws, _ := set.Get("awscli")
	if f := get("awscli")["awscli-"+aws.Version+".data/scripts/aws"]; f == nil {
		t.Error("awscli wheel lacks .data/scripts/aws")
	} else {
		if body := readZip(t, f); !strings.HasPrefix(body, "#!python\n") {
			t.Errorf("aws script starts %q", strings.SplitN(body, "\n", 2)[0])
		}
		if f.Mode().Perm()&0o111 == 0 {
			t.Errorf("aws script mode %v is not executable", f.Mode())
		}
	}
	ip, _ := set.Get("ipython")
	ipFiles := get("ipython")
	if ipFiles["ipython-"+ip.Version+".data/data/share/man/man1/ipython.1"] == nil {
		t.Error("ipython wheel lacks its man page under .data/data")
	}
	for name := range ipFiles {
		if strings.Contains(name, ".data/scripts/") {
			t.Errorf("ipython wheel keeps console-script wrapper %s", name)
		}
	}
	for name := range get("pip") {
		if strings.Contains(name, ".data/") {
			t.Errorf("pip wheel keeps %s", name)
		}
	}
}

func TestClosureFlask(t *testing.T) {
	set := corpustest.Set(t)
	ws, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	var names []string
	for _, w := range ws {
		got[pyname.Normalize(w.Name)] = true
		names = append(names, pyname.Normalize(w.Name))
	}
	for _, want := range []string{"flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker"} {
		if !got[want] {
			t.Errorf("closure of flask %v lacks %s", names, want)
		}
	}
	if got["boto3"] || got["moto"] {
		t.Errorf("closure of flask has unrelated dists: %v", names)
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("closure not sorted: %v", names)
		}
	}
	if _, err := set.Closure(context.Background(), "no-such-dist-here"); err == nil || !strings.Contains(err.Error(), "no-such-dist-here is not installed") {
		t.Errorf("closure of a missing dist: err = %v", err)
	}
}

// TestPipInstallsFlaskClosure is the strongest check of the repacked
// wheels: the real pip installs them, and Python imports Flask from them.
func TestPipInstallsFlaskClosure(t *testing.T) {
	set := corpustest.Set(t)
	python := set.Python
	ws, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	var paths []string
	for _, w := range ws {
		paths = append(paths, w.Path)
	}
	corpustest.PipInstall(t, python, target, paths...)
	out := corpustest.Run(t, python, []string{"PYTHONPATH=" + target}, "-c",
		"import flask, werkzeug, importlib.metadata as m; print(flask.__file__); print(werkzeug.__file__); print(m.version('flask'))")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], target) || !strings.HasPrefix(lines[1], target) || lines[2] != "3.1.3" {
		t.Errorf("import from %s printed:\n%s", target, out)
	}

	// The hashed lock installs too: pip checks every --hash.
	lock := filepath.Join(t.TempDir(), "flask.txt")
	if err := corpus.WriteRequirements(lock, ws); err != nil {
		t.Fatal(err)
	}
	locked := t.TempDir()
	corpustest.Run(t, python, nil, "-m", "pip", "install", "--isolated", "--no-index", "--no-deps", "--no-compile",
		"--disable-pip-version-check", "--require-hashes", "--find-links", filepath.Join(set.Dir, "wheels"),
		"--target", locked, "-r", lock)
	if _, err := os.Stat(filepath.Join(locked, "flask", "__init__.py")); err != nil {
		t.Errorf("install from the lock: %v", err)
	}
}

func TestWriteRequirements(t *testing.T) {
	h := strings.Repeat("ab", 32)
	p := filepath.Join(t.TempDir(), "sub", "req.txt")
	err := corpus.WriteRequirements(p, []corpus.Wheel{
		{Name: "Werkzeug", Version: "3.1.8", SHA256: h},
		{Name: "Flask", Version: "3.1.3", SHA256: strings.Repeat("01", 32)},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	body := string(b)
	if i := strings.Index(body, "\n"); strings.HasPrefix(body, "#") && i > 0 {
		body = body[i+1:]
	}
	want := "flask==3.1.3 \\\n    --hash=sha256:" + strings.Repeat("01", 32) + "\nwerkzeug==3.1.8 \\\n    --hash=sha256:" + h + "\n"
	if body != want {
		t.Errorf("requirements:\n%s\nwant:\n%s", body, want)
	}
	for _, bad := range [][]corpus.Wheel{
		{{Name: "a", Version: "1", SHA256: h}, {Name: "A", Version: "2", SHA256: h}},
		{{Name: "a", Version: "1", SHA256: "nothex"}},
		{{Name: "a", Version: "", SHA256: h}},
	} {
		if err := corpus.WriteRequirements(p, bad); err == nil {
			t.Errorf("WriteRequirements(%+v) succeeded", bad)
		}
	}
}

func TestBundled(t *testing.T) {
	python := corpustest.Python(t)
	dir := t.TempDir()
	check := func(python string, want ...string) {
		t.Helper()
		ws, err := corpus.Bundled(context.Background(), python, dir)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, w := range ws {
			got[w.Name] = true
			b, err := os.ReadFile(w.Path)
			sum := sha256.Sum256(b)
			if err != nil || hex.EncodeToString(sum[:]) != w.SHA256 || !strings.HasPrefix(w.Path, dir) {
				t.Errorf("%s: %v (digest %x, Set says %s)", w.Path, err, sum, w.SHA256)
			}
		}
		for _, n := range want {
			if !got[n] {
				t.Errorf("bundled wheels of %s: %+v, want %s", python, ws, n)
			}
		}
	}
	check(python, "pip", "setuptools")
	if _, err := os.Stat("/usr/share/python-wheels"); err == nil {
		if _, err := os.Stat("/usr/bin/python3"); err == nil {
			check("/usr/bin/python3", "pip")
		}
	}
}

func TestCExtension(t *testing.T) {
	for _, minor := range []string{"3.11", "3.8"} {
		t.Run(minor, func(t *testing.T) {
			python := corpustest.PyenvPython(t, minor)
			w, err := corpus.CExtension(context.Background(), python, "")
			if err != nil {
				t.Fatal(err)
			}
			tag := "cp" + strings.ReplaceAll(minor, ".", "")
			if want := "pipbake_cext-1.0.0-" + tag + "-" + tag + "-linux_x86_64.whl"; w.File != want {
				t.Errorf("file = %s, want %s", w.File, want)
			}
			if err := checkWheel(w); err != nil {
				t.Fatal(err)
			}
			files := zipContents(t, w.Path)
			if !strings.Contains(readZip(t, files["pipbake_cext-1.0.0.dist-info/WHEEL"]), "Root-Is-Purelib: false") {
				t.Error("WHEEL is not platlib")
			}
			if f := files["pipbake_cext-1.0.0.data/scripts/pipbake-cext-hello"]; f == nil || !strings.HasPrefix(readZip(t, f), "#!python\n") || f.Mode().Perm() != 0o755 {
				t.Error("no executable #!python script in .data/scripts")
			}

			target := t.TempDir()
			corpustest.PipInstall(t, python, target, w.Path)
			env := []string{"PYTHONPATH=" + target}
			out := corpustest.Run(t, python, env, "-c", "import pipbake_cext; assert pipbake_cext.add(2, 3) == 5; print(pipbake_cext.__version__, pipbake_cext.__file__)")
			if !strings.HasPrefix(out, "1.0.0 "+target) {
				t.Errorf("import printed %q", out)
			}
			out = corpustest.Run(t, python, env, filepath.Join(target, "bin", "pipbake-cext"), "40", "2")
			if out != "pipbake_cext 1.0.0: 40 + 2 = 42\n" {
				t.Errorf("console script printed %q", out)
			}
			hello, err := os.ReadFile(filepath.Join(target, "bin", "pipbake-cext-hello"))
			if err != nil || !strings.HasPrefix(string(hello), "#!/") {
				t.Errorf("installed script: %q, %v", hello, err)
			}
			out = corpustest.Run(t, python, env, filepath.Join(target, "bin", "pipbake-cext-hello"))
			if !strings.HasPrefix(out, "hello from pipbake_cext 1.0.0") {
				t.Errorf("script printed %q", out)
			}

			again, err := corpus.CExtension(context.Background(), python, "")
			if err != nil || again != w {
				t.Errorf("second build: %+v, %v; first %+v", again, err, w)
			}
		})
	}
}
