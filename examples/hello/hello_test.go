package hello

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelbuild"
)

var update = flag.Bool("update", false, "rewrite requirements.txt with the hash of the wheel built from the current source")

var pinRE = regexp.MustCompile(`(?m)^hello==(\S+) \\\n\s+--hash=sha256:([0-9a-f]{64})\s*$`)

const refresh = "go test ./examples/hello -run TestLock -update"

func lockText(sha string) string {
	return fmt.Sprintf(`# Lock for the hello example app (examples/hello). The hash is the sha256 of
# the wheel internal/wheelbuild builds from the embedded source with
# SOURCE_DATE_EPOCH unset (hello.Build). After changing the source, refresh it:
#   %s
hello==%s \
    --hash=sha256:%s
`, refresh, Version, sha)
}

// TestLockMatchesSource rebuilds the wheel from the embedded tree and
// checks requirements.txt pins its hash.
func TestLockMatchesSource(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	os.Unsetenv("SOURCE_DATE_EPOCH")
	var buf bytes.Buffer
	res, err := wheelbuild.Write(Source, &buf, wheelbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.File != "hello-0.1.0-py3-none-any.whl" {
		t.Errorf("wheel file = %s", res.File)
	}
	// hello.Build ignores SOURCE_DATE_EPOCH and must agree.
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	built, err := Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if built.SHA256 != res.SHA256 {
		t.Errorf("hello.Build gives %s, wheelbuild without SOURCE_DATE_EPOCH %s", built.SHA256, res.SHA256)
	}

	if *update {
		if err := os.WriteFile("requirements.txt", []byte(lockText(res.SHA256)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("requirements.txt now pins hello==%s sha256:%s (rebuild to embed it)", Version, res.SHA256)
		return
	}
	m := pinRE.FindSubmatch(Lock)
	if m == nil {
		t.Fatalf("requirements.txt has no hello==VERSION --hash=sha256:... pin; regenerate it with\n  %s", refresh)
	}
	if string(m[1]) != Version {
		t.Errorf("requirements.txt pins hello==%s, the source is %s; regenerate it with\n  %s", m[1], Version, refresh)
	}
	if string(m[2]) != res.SHA256 {
		t.Errorf("requirements.txt pins sha256:%s but the embedded source builds a wheel with sha256:%s.\n"+
			"If you changed examples/hello on purpose, regenerate the lock with\n  %s", m[2], res.SHA256, refresh)
	}
}

// TestVersionsAgree checks pyproject.toml, the package and the Go constant
// name the same version.
func TestVersionsAgree(t *testing.T) {
	p, err := wheelbuild.Load(Source)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != Name || p.Version != Version {
		t.Errorf("pyproject.toml says %s %s, hello.go %s %s", p.Name, p.Version, Name, Version)
	}
	init, err := fs.ReadFile(Source, "src/hello/__init__.py")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(init), fmt.Sprintf("__version__ = %q", Version)) {
		t.Errorf("src/hello/__init__.py does not set __version__ = %q", Version)
	}
	if p.Scripts["hello"] != "hello.cli:main" {
		t.Errorf("console script hello = %q", p.Scripts["hello"])
	}
}

// TestInstallAndRun installs the built wheel with the real pip into a
// --target directory and runs the app on the oldest and the corpus Python.
func TestInstallAndRun(t *testing.T) {
	for _, minor := range []string{"3.8", "3.11"} {
		t.Run(minor, func(t *testing.T) {
			python := corpustest.PyenvPython(t, minor)
			wheels := t.TempDir()
			if _, err := Build(wheels); err != nil {
				t.Fatal(err)
			}
			lock := filepath.Join(t.TempDir(), "requirements.txt")
			if err := os.WriteFile(lock, Lock, 0o644); err != nil {
				t.Fatal(err)
			}
			// pip itself checks the committed hash.
			target := t.TempDir()
			corpustest.Run(t, python, nil, "-m", "pip", "install", "--isolated", "--no-index", "--no-deps",
				"--no-compile", "--disable-pip-version-check", "--no-warn-script-location", "--require-hashes",
				"--find-links", wheels, "--target", target, "-r", lock)
			facts := strings.Fields(corpustest.Run(t, python, nil, "-c", "import platform, sys; print(platform.python_version(), sys.prefix)"))
			want := fmt.Sprintf("Hello from hello %s on Python %s (sys.prefix: %s)\n", Version, facts[0], facts[1])
			env := []string{"PYTHONPATH=" + target}
			if out := corpustest.Run(t, python, env, "-m", "hello"); out != want {
				t.Errorf("python -m hello printed %q, want %q", out, want)
			}
			if out := corpustest.Run(t, python, env, filepath.Join(target, "bin", "hello")); out != want {
				t.Errorf("the hello console script printed %q, want %q", out, want)
			}
		})
	}
}
