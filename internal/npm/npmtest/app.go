package npmtest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Member is one member of a tarball Tgz makes.
type Member struct {
	Name string
	Body string
	Mode int64 // default 0644 (0755 for directories)
	Type byte  // default tar.TypeReg
	Link string
}

// Tgz makes a gzip'd tar of entries, as npm pack does (PAX, fixed time).
func Tgz(tb testing.TB, entries ...Member) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, Typeflag: e.Type, Linkname: e.Link, ModTime: time.Unix(499162500, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// ExpressServer is the Express fixture's app: it listens on a free port
// of 127.0.0.1 (or $PORT), prints "listening on PORT", and answers GET /
// with "hello from pipbake, express VERSION".
const ExpressServer = `const express = require('express');
const app = express();
app.get('/', (req, res) => res.send('hello from pipbake, express ' + require('express/package.json').version));
const server = app.listen(Number(process.env.PORT || 0), '127.0.0.1', () => console.log('listening on ' + server.address().port));
`

// ExpressApp writes the Express fixture's app as npm pack makes it (its
// package.json and server.js under package/) into dir and returns its
// path.
func (f *Fixture) ExpressApp(tb testing.TB, dir string) string {
	tb.Helper()
	pkgJSON, err := os.ReadFile(filepath.Join(f.Dir, "package.json"))
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, "pipbake-express-fixture-1.0.0.tgz")
	data := Tgz(tb, Member{Name: "package/package.json", Body: string(pkgJSON)}, Member{Name: "package/server.js", Body: ExpressServer})
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// ServeApp runs node with args in dir (node's environment cleaned), waits
// for its "listening on PORT" line and returns the body of GET / on that
// port; the app is stopped before it returns.
func ServeApp(tb testing.TB, node, dir string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = CleanEnv(os.Environ())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("the app printed %q: %v\n%s", line, err, stderr.String())
	}
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		tb.Fatalf("the app printed %q", line)
	}
	return Get127(tb, "http://127.0.0.1:"+port+"/")
}

// Get127 GETs a loopback URL and returns the body, failing on a status
// other than 200.
func Get127(tb testing.TB, url string) string {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		tb.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body)
}
