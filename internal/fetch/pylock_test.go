package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
)

// writePylock writes a pylock.toml: demo with three wheels by URL, extra
// by a path relative to the lock.
func writePylock(t *testing.T, dir, base string) *lock.Lock {
	t.Helper()
	var b strings.Builder
	b.WriteString("lock-version = \"1.0\"\ncreated-by = \"pipbake-test\"\n\n[[packages]]\nname = \"demo\"\nversion = \"1.0\"\nwheels = [\n")
	for _, d := range []dist{demoAny, demoLinux, demoWin} {
		fmt.Fprintf(&b, "  { url = %q, size = %d, hashes = { sha256 = %q } },\n", base+"/files/"+d.file, len(d.data), d.sha())
	}
	b.WriteString("]\n\n[[packages]]\nname = \"extra-pkg\"\nversion = \"2.0\"\n")
	fmt.Fprintf(&b, "wheels = [{ path = %q, hashes = { sha256 = %q } }]\n", "wheels/"+extra.file, extra.sha())
	writeDists(t, filepath.Join(dir, "wheels"), extra)
	p := filepath.Join(dir, "pylock.toml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	lk, err := lock.ParseFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

// TestPylockURLsUsedDirectly: a pylock.toml's wheel URLs and paths are
// the sources; no index page is read, the best wheel for the target is
// the one downloaded, and a warm fetch reads no network.
func TestPylockURLsUsedDirectly(t *testing.T) {
	x := newFakeIndex(t, demoAny, demoLinux, demoWin)
	dir := t.TempDir()
	lk := writePylock(t, dir, x.srv.URL)
	o := options(t, lk)
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(x.Requests(), " "); got != "/files/"+demoLinux.file {
		t.Fatalf("requests: %s", got)
	}
	if res.Wheels[0].File != demoLinux.file || res.Wheels[1].Source != filepath.Join(dir, "wheels", extra.file) {
		t.Fatalf("result: %+v", res.Wheels)
	}
	o.HTTPClient = &http.Client{Transport: failTransport{t}}
	o.Out = filepath.Join(t.TempDir(), "warm")
	if res, err = Fetch(context.Background(), o); err != nil || res.FromCache != 2 {
		t.Fatalf("warm: %v %+v", err, res)
	}
}

// TestPylockWithSources: with --source, a pylock's wheels are looked up
// by name in the sources, and only the files the lock lists count.
func TestPylockWithSources(t *testing.T) {
	dir := t.TempDir()
	lk := writePylock(t, dir, "https://unreachable.invalid")
	mirror := filepath.Join(dir, "mirror")
	other := mkdist("demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl") // better tag, not in the lock
	writeDists(t, mirror, demoAny, other, extra)
	o := options(t, lk)
	o.Sources = []string{mirror}
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Wheels[0].File != demoAny.file {
		t.Fatalf("chose %s", res.Wheels[0].File)
	}
	// Without the lock's files in the sources, say what is there.
	os.Remove(filepath.Join(mirror, demoAny.file))
	o.Out = filepath.Join(t.TempDir(), "out")
	o.Cache = filepath.Join(t.TempDir(), "cache")
	_, err = Fetch(context.Background(), o)
	if !errors.Is(err, NotFound) || !strings.Contains(err.Error(), "has "+other.file+", which the lock does not list") {
		t.Fatalf("err = %v", err)
	}
}
