package install

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
)

// TestInstallLogsProgress: an install says how it goes while it runs, past
// a second (in plain lines where the log is no terminal: Packer's UI, CI),
// and closes with the count, bytes and rate.
func TestInstallLogsProgress(t *testing.T) {
	t.Setenv(progress.EnvMode, "")
	py := corpustest.Python(t)
	wheels := flaskClosure(t)
	wh, lockPath := house(t, wheels)
	root := filepath.Join(t.TempDir(), "api")
	var log bytes.Buffer
	if _, err := Run(context.Background(), Set{Name: "api", Lock: lockPath, Python: py, Root: root},
		Options{Release: "r1", Wheelhouse: wh, Version: "test", Log: &log}); err != nil {
		t.Fatal(err)
	}
	got := log.String()
	if strings.ContainsAny(got, "\r\x1b") {
		t.Errorf("carriage return or escape in a log that is no terminal:\n%q", got)
	}
	summary := regexp.MustCompile(`pipbake: api: installed (\d+) distributions \((\d+) files, [0-9.]+ MB\) in [0-9.]+s \([0-9.]+ [kM]B/s\)`)
	m := summary.FindStringSubmatch(got)
	if m == nil || m[1] != strconv.Itoa(len(wheels)) {
		t.Fatalf("no closing line with count, bytes and rate:\n%s", got)
	}
	// Over a second (a busy machine), a line while it ran, and no second
	// closing line.
	if secs, _ := strconv.ParseFloat(regexp.MustCompile(`in ([0-9.]+)s`).FindStringSubmatch(m[0])[1], 64); secs > 1.5 && !strings.Contains(got, "pipbake: api: install: 1s, ") {
		t.Errorf("no progress line while installing for %.1fs:\n%s", secs, got)
	}
	if strings.Contains(got, "install: done") {
		t.Errorf("two closing lines:\n%s", got)
	}
}
