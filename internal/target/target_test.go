package target

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/tags"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/pythons"
)

func (tg *Target) mustSpec(t *testing.T) tags.Spec {
	s, err := tg.Spec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// interpreters returns the machine's interpreters worth testing against
// (pythons.All: without them the test skips, or fails when
// PIPBAKE_CORPUS_REQUIRED is set).
func interpreters(t *testing.T) []string {
	t.Helper()
	return pythons.All(t)
}

// TestTagsMatchPackaging compares the computed tag list, in order, with what
// pip's vendored packaging.tags reports for the same interpreter.
func TestTagsMatchPackaging(t *testing.T) {
	for _, py := range interpreters(t) {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(py)))+"/"+filepath.Base(py), func(t *testing.T) {
			tg, err := Probe(context.Background(), py)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tg.Tags()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(py, "-I", "-c", "from pip._vendor.packaging import tags\nfor t in tags.sys_tags(): print(t)")
			cmd.Env = CleanEnv(os.Environ())
			out, err := cmd.Output()
			if err != nil {
				t.Skipf("%s has no pip to compare with: %v", py, err)
			}
			want := strings.Fields(string(out))
			// pip before 24 vendors a packaging that leaves out the
			// interpreter's own none-any tag; compare without it then.
			own := tg.mustSpec(t).Interpreter() + "-none-any"
			if !slices.Contains(want, own) {
				got = slices.DeleteFunc(got, func(tag tags.Tag) bool { return tag.String() == own })
			}
			for i := 0; i < len(want) && i < len(got); i++ {
				if got[i].String() != want[i] {
					t.Fatalf("tag %d: got %s, packaging has %s", i, got[i], want[i])
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %d tags, packaging has %d; last got: %v", len(got), len(want), got[len(got)-3:])
			}
		})
	}
}

func TestProbeFacts(t *testing.T) {
	py := interpreters(t)[0]
	tg, err := Probe(context.Background(), py)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Paths["purelib"] != "lib/python"+tg.MajorMinor()+"/site-packages" {
		t.Errorf("purelib = %q", tg.Paths["purelib"])
	}
	if tg.Paths["scripts"] != "bin" {
		t.Errorf("scripts = %q", tg.Paths["scripts"])
	}
	if tg.Markers["python_version"] != tg.MajorMinor() {
		t.Errorf("python_version marker = %q", tg.Markers["python_version"])
	}
	if tg.CacheTag == "" || tg.Magic == "" || tg.VenvScripts == "" {
		t.Errorf("missing facts: %+v", tg)
	}
}

func TestProbeMissingInterpreter(t *testing.T) {
	_, err := Probe(context.Background(), "/nonexistent/python3")
	if err == nil || !strings.Contains(err.Error(), `"/nonexistent/python3"`) {
		t.Fatalf("want an error naming the interpreter, got %v", err)
	}
}

func TestProbeNotPython(t *testing.T) {
	_, err := Probe(context.Background(), "/bin/false")
	if err == nil || !strings.Contains(err.Error(), "probe python interpreter") {
		t.Fatalf("want a probe error, got %v", err)
	}
}
