package bake

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
)

// slowLink is a machine whose uploads take about d.
type slowLink struct {
	*local
	d time.Duration
}

func (s slowLink) Upload(ctx context.Context, path string, r io.Reader, size int64) error {
	return s.local.Upload(ctx, path, &slowReader{r: r, perByte: s.d / time.Duration(max(size, 1))}, size)
}

type slowReader struct {
	r       io.Reader
	perByte time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p[:min(len(p), 64<<10)])
	time.Sleep(time.Duration(n) * s.perByte)
	return n, err
}

// TestUploadProgress: an upload over a second reports its bytes and rate
// in Packer's UI, as plain lines (no carriage returns there); a fast one
// says nothing more than the summary.
func TestUploadProgress(t *testing.T) {
	t.Setenv(progress.EnvMode, "")
	py := corpustest.Python(t)
	set := corpustest.Set(t)
	flask, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wh := filepath.Join(dir, "wheelhouse")
	os.MkdirAll(wh, 0o755)
	for _, w := range flask {
		os.Symlink(w.Path, filepath.Join(wh, w.File))
	}
	lockPath := filepath.Join(dir, "api.txt")
	if err := corpus.WriteRequirements(lockPath, flask); err != nil {
		t.Fatal(err)
	}
	run := func(r Remote) string {
		var log bytes.Buffer
		_, err := Run(context.Background(), r, Options{
			Sets:       []plan.Set{{Name: "api", Lock: lockPath, Root: filepath.Join(dir, "api"), Python: py}},
			Wheelhouse: wh, Release: "r1", Staging: filepath.Join(dir, "staging"),
			AgentPath: "/bin/true", Log: &log,
			// the upload is what is looked at: the "install" fails at once
			Command: func(agent, args string) (string, error) { return "exit 7", nil },
		})
		if err == nil || !strings.Contains(err.Error(), "exit status 7") {
			t.Fatalf("want the stand-in install to fail, got %v", err)
		}
		return log.String()
	}
	got := run(slowLink{&local{}, 2500 * time.Millisecond})
	if !strings.Contains(got, "pipbake: upload: ") || !strings.Contains(got, " kB of ") || !strings.Contains(got, "pipbake: upload: done, ") || !strings.Contains(got, "/s") {
		t.Errorf("no upload progress in the log:\n%s", got)
	}
	if strings.ContainsAny(got, "\r\x1b") {
		t.Errorf("carriage return or escape in Packer's lines:\n%q", got)
	}
	if got := run(&local{}); strings.Contains(got, "pipbake: upload:") {
		t.Errorf("a fast upload reported progress:\n%s", got)
	}
}
