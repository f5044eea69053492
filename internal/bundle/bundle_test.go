package bundle

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSizeIsExactAndStreamRoundTrips(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("w", 150)+".whl") // needs a PAX header
	os.WriteFile(long, bytes.Repeat([]byte("x"), 1234567), 0o644)
	agent := filepath.Join(dir, "pipbake")
	os.WriteFile(agent, []byte("#!/bin/sh\n"), 0o755)
	var b Bundle
	if err := b.AddFile("pipbake", agent, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := b.AddFile("dir", dir, 0o755); err == nil {
		t.Error("a directory was accepted")
	}
	b.AddBytes("plan.json", []byte(`{"set":[]}`), 0o644)
	if err := b.AddFile("wheels/"+filepath.Base(long), long, 0o644); err != nil {
		t.Fatal(err)
	}
	size, err := b.Size()
	if err != nil {
		t.Fatal(err)
	}
	r, rsize, err := b.Reader()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != size || rsize != size {
		t.Fatalf("stream has %d bytes, Size said %d", len(data), size)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "plan.json" {
			body, _ := io.ReadAll(tr)
			if string(body) != `{"set":[]}` || h.Mode != 0o644 {
				t.Errorf("plan.json: %q mode %o", body, h.Mode)
			}
		}
	}
	if len(names) != len(b.Entries()) || names[len(names)-1] != "wheels/"+filepath.Base(long) {
		t.Errorf("entries %v", names)
	}
}

func TestChangedFileFails(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.whl")
	os.WriteFile(p, []byte("abc"), 0o644)
	var b Bundle
	b.AddFile("wheels/a.whl", p, 0o644)
	os.WriteFile(p, []byte("ab"), 0o644)
	if _, err := b.WriteTo(io.Discard); err == nil || !strings.Contains(err.Error(), "changed size") {
		t.Fatalf("want a changed-size error, got %v", err)
	}
}
