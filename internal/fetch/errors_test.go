package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
)

// wantErr runs a fetch that must fail with kind, checks its message has
// every want, and checks that out (filled by an earlier fetch) and the
// cache's sha256 folder did not change.
func wantErr(t *testing.T, o Options, kind Kind, want ...string) string {
	t.Helper()
	// An earlier, good wheelhouse in out.
	good := filepath.Join(t.TempDir(), "good")
	writeDists(t, good, extra)
	prev := o
	prev.Locks = []*lock.Lock{writeLock(t, filepath.Join(t.TempDir(), "prev.txt"), nil, pinOf("extra-pkg", "2.0", extra))}
	prev.Sources = []string{good}
	if _, err := Fetch(context.Background(), prev); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, o.Out)

	_, err := Fetch(context.Background(), o)
	if err == nil {
		t.Fatal("fetch succeeded")
	}
	if !errors.Is(err, kind) {
		t.Errorf("error is not %q: %v", kind, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if after := snapshot(t, o.Out); after != before {
		t.Errorf("out changed:\n%s\n%s", before, after)
	}
	checkCache(t, o.Cache)
	siblings, _ := os.ReadDir(filepath.Dir(o.Out))
	for _, s := range siblings {
		if strings.Contains(s.Name(), "pipbake-fetch") {
			t.Errorf("staging folder left: %s", s.Name())
		}
	}
	t.Logf("the error:\n%v", err)
	return err.Error()
}

// TestSdistOnlyListsEveryPin: two pins with only sdists fail together in
// one message that says how to provide wheels.
func TestSdistOnlyListsEveryPin(t *testing.T) {
	a, b := mkdist("alpha-1.0.tar.gz"), mkdist("Beta_Pkg-2.1.zip")
	x := newFakeIndex(t, demoAny, a, b)
	lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()},
		pinOf("alpha", "1.0", a), pinOf("demo", "1.0", demoAny), pinOf("beta-pkg", "2.1", b))
	msg := wantErr(t, options(t, lk), SdistOnly,
		"2 pins have only source distributions (sdists)",
		"alpha==1.0 (", "r.txt:2): only a source distribution: alpha-1.0.tar.gz at "+x.srv.URL+"/files/alpha-1.0.tar.gz",
		"beta-pkg==2.1 (", "Beta_Pkg-2.1.zip",
		"pip wheel --no-deps", "--find-links DIR", "--source DIR")
	if strings.Contains(msg, "demo==1.0") {
		t.Errorf("a fine pin is listed: %s", msg)
	}
}

// TestNoWheelForTarget lists the files that exist and the tags wanted.
func TestNoWheelForTarget(t *testing.T) {
	x := newFakeIndex(t, demoWin)
	lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoWin))
	wantErr(t, options(t, lk), NoMatchingTags,
		"demo==1.0 (", "no wheel in any source fits the target", "cp311-cp311-manylinux_2_36_x86_64", "there are: "+demoWin.file)
}

// TestNotFound: a project no source has, and a version no source has.
func TestNotFound(t *testing.T) {
	x := newFakeIndex(t, demoOld)
	dir := filepath.Join(t.TempDir(), "wheels")
	writeDists(t, dir, demoOld)
	lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), nil, pinOf("demo", "1.0", demoAny), pinOf("nothere", "3", demoAny))
	o := options(t, lk)
	o.Sources = []string{x.URL(), dir}
	wantErr(t, o, NotFound,
		"demo==1.0 (", "not found in any source", x.URL()+": no files for version 1.0 (versions there: 0.9)", dir+": no files for version 1.0",
		"nothere==3 (", "r.txt:3)", x.URL()+": no files for nothere")
}

// TestUnreachableSource: a port nobody listens on, tried with retries,
// then reported once per pin; the second pin skips the dead source.
func TestUnreachableSource(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/simple/"
	l.Close()
	lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + dead}, pinOf("demo", "1.0", demoAny), pinOf("extra-pkg", "2.0", extra))
	o := options(t, lk)
	o.Jobs = 1
	wantErr(t, o, Unreachable, "demo==1.0", "a source could not be reached", dead+": cannot reach "+strings.TrimPrefix(strings.TrimSuffix(dead, "/simple/"), "http://"),
		"connection refused", "tried 5 times", "extra-pkg==2.0", "2 pins: a source could not be reached")
}

// TestMalformedIndex: broken JSON, an unknown API version, a bad hash
// fragment, and a page that is not an index.
func TestMalformedIndex(t *testing.T) {
	for name, tc := range map[string]struct {
		ctype, body, want string
	}{
		"truncated json":  {typeJSON, `{"meta": {"api-version": "1.0"}, "files": [`, "invalid PEP 691 JSON"},
		"api version 2":   {typeJSON, `{"meta": {"api-version": "2.0"}, "files": []}`, `simple API version "2.0" is not supported`},
		"no files key":    {typeJSON, `{"meta": {"api-version": "1.0"}}`, "no files key"},
		"bad fragment":    {"text/html", `<a href="/f/demo-1.0-py3-none-any.whl#sha256">demo</a>`, "malformed hash fragment #sha256"},
		"bad sha256":      {"text/html", `<a href="/f/demo-1.0-py3-none-any.whl#sha256=abc">demo</a>`, `sha256 "abc" is not 64 hex digits`},
		"html version 2":  {"text/html", `<meta name="pypi:repository-version" content="2.0"><a href="x.whl">x</a>`, "not supported"},
		"not an index":    {"text/plain", "hello", `content type "text/plain" is neither PEP 503 HTML nor PEP 691 JSON`},
		"future api type": {"application/vnd.pypi.simple.v2+json", "{}", "does not read"},
	} {
		t.Run(name, func(t *testing.T) {
			x := newFakeIndex(t, demoAny)
			x.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
				if strings.HasPrefix(r.URL.Path, "/simple/") {
					w.Header().Set("Content-Type", tc.ctype)
					fmt.Fprint(w, tc.body)
					return true
				}
				return false
			}
			lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny))
			wantErr(t, options(t, lk), MalformedIndex, "demo==1.0", x.URL()+": "+x.srv.URL+"/simple/demo/: ", tc.want)
		})
	}
}

// TestAccessDenied: an index that wants credentials we do not have, or
// refuses the ones we send.
func TestAccessDenied(t *testing.T) {
	x := newFakeIndex(t, demoAny)
	x.user, x.pass = "alice", "s3cret-pw"
	lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny))
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "none"))
	wantErr(t, options(t, lk), AccessDenied, "access denied", "401 Unauthorized", "no credentials were sent", "PIPBAKE_INDEX_TOKEN_127_0_0_1")

	wrong := strings.Replace(x.URL(), "http://", "http://alice:wrong-pw@", 1)
	lk = writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + wrong}, pinOf("demo", "1.0", demoAny))
	msg := wantErr(t, options(t, lk), AccessDenied, "the credentials sent were refused", x.URL()+": ")
	if strings.Contains(msg, "wrong-pw") {
		t.Fatalf("password in error: %s", msg)
	}
}

// TestLocksThatDisagree: two locks pinning the same version with no
// common hash cannot both be satisfied.
func TestLocksThatDisagree(t *testing.T) {
	dir := t.TempDir()
	a := writeLock(t, filepath.Join(dir, "a.txt"), nil, pinOf("demo", "1.0", demoAny))
	b := writeLock(t, filepath.Join(dir, "b.txt"), nil, pinOf("demo", "1.0", demoLinux))
	o := options(t, a, b)
	o.Sources = []string{dir}
	wantErr(t, o, Failed, "no file satisfies every lock", "a.txt:1 allows "+demoAny.sha(), "b.txt:1 allows "+demoLinux.sha())
}

// TestOutputGuard: fetch refuses to replace a folder it did not write.
func TestOutputGuard(t *testing.T) {
	dir := t.TempDir()
	writeDists(t, dir, demoAny)
	lk := writeLock(t, filepath.Join(dir, "r.txt"), nil, pinOf("demo", "1.0", demoAny))
	o := options(t, lk)
	o.Sources = []string{dir}
	os.MkdirAll(o.Out, 0o755)
	os.WriteFile(filepath.Join(o.Out, "precious.txt"), []byte("keep"), 0o644)
	_, err := Fetch(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "has files but no wheelhouse.json") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(o.Out, "precious.txt")); string(data) != "keep" {
		t.Fatal("precious file touched")
	}
	// An empty folder is fine; so is a symlink to one.
	os.Remove(filepath.Join(o.Out, "precious.txt"))
	link := filepath.Join(dir, "link")
	os.Symlink(o.Out, link)
	o.Out = link
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v", err)
	}
	readIndex(t, link)
}

// TestBadSources are refused before anything happens.
func TestBadSources(t *testing.T) {
	lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), nil, pinOf("demo", "1.0", demoAny))
	for src, want := range map[string]string{
		"ftp://host/x":        "pipbake fetches from http(s) indexes, s3:// buckets and folders",
		"/does/not/exist":     "no such file or directory",
		"s3://":               "want s3://BUCKET",
		"http://[::1/simple/": "not a valid URL",
	} {
		o := options(t, lk)
		o.Sources = []string{src}
		if _, err := Fetch(context.Background(), o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", src, err)
		}
	}
}
