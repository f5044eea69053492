package resolve

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
)

// closureRoots are requirements whose closure pip (in the corpus
// interpreter) and pipbake lock must agree on.
var closureRoots = [][]string{
	{"flask"},
	{"requests"},
	{"boto3"},
	{"jsonschema"},
	{"ipython"},
	{"moto"},
	{"pydantic", "pydantic-settings"},
	{"cfn-lint"},
	{"trio"},
}

// shortClosureRoots are the closureRoots TestClosureMatchesPip checks
// with -short (make check, under -race): each root costs about 0.85 s of
// CPU (pip's closure in Python, two resolves), 10 s for all nine. These
// three have two roots, extras left out (requests' socks, pydantic's
// email) and markers on the Python version, the OS and the
// implementation (trio's cffi and exceptiongroup). make test runs all.
var shortClosureRoots = map[string]bool{"requests": true, "pydantic+pydantic-settings": true, "trio": true}

// TestClosureMatchesPip: over the corpus of real wheels (every
// distribution of the corpus interpreter), the lock of a requirement
// holds exactly what pip installed for it there, both when locked for
// that interpreter and when the universal lock's markers are evaluated
// for it.
func TestClosureMatchesPip(t *testing.T) {
	set := corpustest.Set(t)
	dir := filepath.Join(set.Dir, "wheels")
	tg, err := target.Probe(context.Background(), set.Python)
	if err != nil {
		t.Fatal(err)
	}
	for _, roots := range closureRoots {
		name := strings.Join(roots, "+")
		if testing.Short() && !shortClosureRoots[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			want, err := set.Closure(context.Background(), roots...)
			if err != nil {
				t.Skipf("pip's closure: %v", err)
			}
			var wantPins []string
			for _, w := range want {
				wantPins = append(wantPins, pyname.Normalize(w.Name)+"=="+w.Version)
			}
			res, err := Resolve(Options{Dir: dir, Requirements: reqs(t, roots...), Env: tg.Markers})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Packages {
				got = append(got, p.Key()+"=="+p.Version)
				if p.Marker != "" {
					t.Errorf("%s has marker %q in a lock for one target", p.Name, p.Marker)
				}
			}
			if !slices.Equal(got, wantPins) {
				t.Errorf("lock for %s:\n got %q\npip %q", set.Python, got, wantPins)
			}

			// The universal lock, read back and evaluated for the target.
			res, err = Resolve(Options{Dir: dir, Requirements: reqs(t, roots...)})
			if err != nil {
				t.Fatal(err)
			}
			var buf strings.Builder
			if err := WriteRequirements(&buf, res, nil); err != nil {
				t.Fatal(err)
			}
			lk, err := lock.Parse("requirements.txt", []byte(buf.String()))
			if err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			ps, err := lk.ForEnv(tg.Markers)
			if err != nil {
				t.Fatal(err)
			}
			got = nil
			for _, p := range ps {
				got = append(got, p.Key()+"=="+p.Version)
			}
			if !slices.Equal(got, wantPins) {
				t.Errorf("universal lock evaluated for %s:\n got %q\npip %q\n%s", set.Python, got, wantPins, buf.String())
			}
		})
	}
}

// TestPipInstallsLock: pip (the corpus interpreter's, 23.2) installs the
// requirements lock with --require-hashes --no-index --find-links and no
// --no-deps, so it checks every hash and that the lock holds every
// dependency.
func TestPipInstallsLock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pip")
	}
	set := corpustest.Set(t)
	dir := filepath.Join(set.Dir, "wheels")
	res, err := Resolve(Options{Dir: dir, Requirements: reqs(t, "flask", "requests", "jsonschema")})
	if err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(t.TempDir(), "requirements.txt")
	f, err := os.Create(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteRequirements(f, res, []string{"made by TestPipInstallsLock"}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dest := t.TempDir()
	corpustest.Run(t, set.Python, nil, "-m", "pip", "install", "--isolated", "--no-index", "--no-compile",
		"--disable-pip-version-check", "--require-hashes", "--find-links", dir, "--target", dest, "-r", lockFile)
	out := corpustest.Run(t, set.Python, []string{"PYTHONPATH=" + dest}, "-c",
		"import flask, requests, jsonschema; print(flask.__file__); print(requests.__file__)")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, dest) {
			t.Errorf("imported %s, not from %s", line, dest)
		}
	}
	for _, mod := range []string{"flask", "requests", "jsonschema", "werkzeug", "urllib3"} {
		if _, err := os.Stat(filepath.Join(dest, mod, "__init__.py")); err != nil {
			t.Errorf("pip did not install %s from the lock: %v", mod, err)
		}
	}

	// A lock missing a dependency is refused by pip: the check above can
	// fail.
	data, _ := os.ReadFile(lockFile)
	var kept []string
	skip := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.ToLower(line), "werkzeug==") {
			skip = true
			continue
		}
		if skip && strings.HasPrefix(line, " ") {
			continue
		}
		skip = false
		kept = append(kept, line)
	}
	broken := filepath.Join(t.TempDir(), "broken.txt")
	os.WriteFile(broken, []byte(strings.Join(kept, "\n")), 0o644)
	cmd := corpus.Command(context.Background(), set.Python, "-m", "pip", "install", "--isolated", "--no-index", "--no-compile",
		"--disable-pip-version-check", "--require-hashes", "--find-links", dir, "--target", t.TempDir(), "-r", broken)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("pip accepted a lock without werkzeug:\n%s", out)
	}
}
