package rootfs_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// slowLayer is a layer of n files read over about d.
func slowLayer(t *testing.T, n int, d time.Duration) (diffID string, size int64, open func() (io.ReadCloser, error)) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "usr/", Mode: 0o755})
	for i := range n {
		body := strings.Repeat("x", 1000)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("usr/f%05d", i), Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	data := buf.Bytes()
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), int64(len(data)), func() (io.ReadCloser, error) {
		return io.NopCloser(&trickle{r: bytes.NewReader(data), size: len(data), d: d}), nil
	}
}

// trickle reads at a steady rate: byte k is not given before k/size of d
// has passed since the first read.
type trickle struct {
	r     io.Reader
	size  int
	d     time.Duration
	start time.Time
	done  int
}

func (t *trickle) Read(p []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	n, err := t.r.Read(p[:min(len(p), 32<<10)])
	t.done += n
	time.Sleep(time.Until(t.start.Add(time.Duration(float64(t.d) * float64(t.done) / float64(t.size)))))
	return n, err
}

// TestUnpackProgress: unpacking a base layer for more than a second says
// how far it got (files, bytes, rate): plain lines for Packer's UI and CI,
// one line redrawn on a terminal; the cached layer later says nothing.
func TestUnpackProgress(t *testing.T) {
	diffID, size, open := slowLayer(t, 3000, 1500*time.Millisecond)
	mb := progress.Bytes(size)
	for _, mode := range []string{"lines", "terminal"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv(progress.EnvMode, mode)
			var log bytes.Buffer
			c := &rootfs.Cache{Dir: t.TempDir(), Progress: &log}
			if _, hit, err := c.Layer(diffID, open); err != nil || hit {
				t.Fatalf("layer: hit %v, %v", hit, err)
			}
			got := log.String()
			name := "unpack layer " + strings.TrimPrefix(diffID, "sha256:")[:12]
			switch mode {
			case "lines":
				if strings.ContainsAny(got, "\r\x1b") || !strings.HasPrefix(got, name+": ") || !strings.Contains(got, "\n"+name+": done, 3001 files, "+mb+", ") {
					t.Errorf("lines: %q", got)
				}
			case "terminal":
				last := got[strings.LastIndex(got, "\r")+1:]
				if !strings.HasPrefix(got, "\r"+name+"  ") || !strings.HasPrefix(last, name+"  3001 files  "+mb+"  ") || !strings.HasSuffix(last, "/s\x1b[K\n") || strings.Contains(got, "\n\r") {
					t.Errorf("terminal: %q", got)
				}
			}
			log.Reset()
			if _, hit, err := c.Layer(diffID, open); err != nil || !hit || log.Len() != 0 {
				t.Errorf("cached: hit %v, %v, wrote %q", hit, err, log.String())
			}
		})
	}
}
