package fetch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// chaosCase is one fault of the index.
type chaosCase struct {
	name string
	// fault answers a request itself when it returns true; n counts the
	// requests for the path, b is a second loopback server.
	fault func(w http.ResponseWriter, r *http.Request, n int, b *authLog) bool
	// want is the error's kind and text; "" when the fetch succeeds
	// despite the fault.
	kind Kind
	text string
}

const (
	chaosUser = "chaos-user"
	chaosPass = "Chaos-Pa55-9f8e7d"
)

var chaosFile = "/files/" + demoAny.file

func onFile(f func(w http.ResponseWriter, r *http.Request, n int) bool) func(http.ResponseWriter, *http.Request, int, *authLog) bool {
	return func(w http.ResponseWriter, r *http.Request, n int, _ *authLog) bool {
		return r.URL.Path == chaosFile && f(w, r, n)
	}
}

func onPage(f func(w http.ResponseWriter, r *http.Request, n int) bool) func(http.ResponseWriter, *http.Request, int, *authLog) bool {
	return func(w http.ResponseWriter, r *http.Request, n int, _ *authLog) bool {
		return r.URL.Path == "/simple/demo/" && f(w, r, n)
	}
}

// chaosCases are the faults of a faulty index: server errors, resets,
// truncation, wrong bytes, slow and stalled answers, redirect loops,
// redirects across ports and to URLs carrying the password.
var chaosCases = []chaosCase{
	{name: "500 on the page", fault: onPage(func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "boom "+r.Header.Get("Authorization"), http.StatusInternalServerError)
		return true
	}), kind: Unreachable, text: "500 Internal Server Error"},
	{name: "500 on the file", fault: onFile(func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "boom", http.StatusInternalServerError)
		return true
	}), kind: Unreachable, text: "tried 5 times"},
	{name: "500 twice then fine", fault: onFile(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n <= 2 {
			http.Error(w, "boom", http.StatusBadGateway)
			return true
		}
		return false
	})},
	{name: "429 with Retry-After 0", fault: onPage(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		return false
	})},
	{name: "reset before the answer, always", fault: onPage(func(w http.ResponseWriter, r *http.Request, n int) bool {
		reset(w, nil)
		return true
	}), kind: Unreachable, text: "connection reset"},
	{name: "reset in the body, once", fault: onFile(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			reset(w, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(demoAny.data), demoAny.data[:300]))
			return true
		}
		return false
	})},
	{name: "truncated body, always", fault: onFile(func(w http.ResponseWriter, r *http.Request, n int) bool {
		reset(w, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(demoAny.data), demoAny.data[:len(demoAny.data)/2]))
		return true
	}), kind: Unreachable},
	{name: "a shorter Content-Length", fault: onFile(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Content-Length", fmt.Sprint(len(demoAny.data)-10))
		w.Write(demoAny.data[:len(demoAny.data)-10])
		return true
	}), kind: HashMismatch, text: "the lock"},
	{name: "wrong bytes", fault: onFile(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Write(extra.data)
		return true
	}), kind: HashMismatch, text: "served " + demoAny.file},
	{name: "a page of garbage", fault: onPage(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Content-Type", typeJSON)
		w.Write([]byte("{\"meta\": {\"api-version\": \"1.0\"}, \"files\": [{\"filename\": 7"))
		return true
	}), kind: MalformedIndex, text: "invalid PEP 691 JSON"},
	{name: "a link whose name leaves the folder", fault: onPage(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<a href="/files/%s#sha256=%s">demo-1.0-py3./../../../X-none-any.whl</a><a href="/blob">demo-1.0-py3./../../../X-none-any.whl</a>`, demoAny.file, demoAny.sha())
		return true
	}), kind: MalformedIndex, text: "is refused"},
	{name: "slow answer", fault: onFile(func(w http.ResponseWriter, r *http.Request, n int) bool {
		time.Sleep(100 * time.Millisecond)
		w.Header().Set("Content-Length", fmt.Sprint(len(demoAny.data)))
		for data := demoAny.data; len(data) > 0; data = data[min(len(data), 512):] {
			w.Write(data[:min(len(data), 512)])
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		return true
	})},
	{name: "stalled body, always", fault: onFile(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Content-Length", fmt.Sprint(len(demoAny.data)))
		w.Write(demoAny.data[:100])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return true
	}), kind: Unreachable, text: "stalled"},
	{name: "redirect loop on the page", fault: onPage(func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
		return true
	}), kind: Unreachable, text: "stopped after 10 redirects"},
	{name: "redirect loop between two files", fault: func(w http.ResponseWriter, r *http.Request, n int, _ *authLog) bool {
		switch r.URL.Path {
		case chaosFile:
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		case "/elsewhere":
			http.Redirect(w, r, chaosFile, http.StatusMovedPermanently)
		default:
			return false
		}
		return true
	}, kind: Unreachable, text: "stopped after 10 redirects"},
	{name: "redirect to another port", fault: func(w http.ResponseWriter, r *http.Request, n int, b *authLog) bool {
		if r.URL.Path != chaosFile {
			return false
		}
		http.Redirect(w, r, b.srv.URL+chaosFile, http.StatusFound)
		return true
	}},
	{name: "redirect to another port with the password in the URL", fault: func(w http.ResponseWriter, r *http.Request, n int, b *authLog) bool {
		if r.URL.Path != chaosFile {
			return false
		}
		u := strings.Replace(b.srv.URL, "http://", "http://"+chaosUser+":"+chaosPass+"@", 1)
		http.Redirect(w, r, u+chaosFile+"?token="+chaosPass, http.StatusFound)
		return true
	}},
	{name: "redirect to a closed port", fault: onFile(func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Redirect(w, r, "http://"+closedAddr+chaosFile, http.StatusFound)
		return true
	}), kind: Unreachable, text: "connection refused"},
	{name: "credentials refused", fault: onPage(func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "no", http.StatusForbidden)
		return true
	}), kind: AccessDenied, text: "the credentials sent were refused"},
}

// closedAddr is a loopback address nothing listens on.
var closedAddr = func() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}()

// TestChaosFaultyIndex fetches two pins from a loopback index behind basic
// auth (the password in the lock's index URL) that fails in one way per
// case. Each case first writes a good wheelhouse, then fetches with the
// fault into the same --out with a cold cache, then again without it.
// Every run must end with a correct wheelhouse or a clear error leaving
// --out as it was; no run may write outside --out and its cache, or put
// the password anywhere it writes; and the run after the fault succeeds.
func TestChaosFaultyIndex(t *testing.T) {
	old := stallTimeout
	stallTimeout = 200 * time.Millisecond
	defer func() { stallTimeout = old }()
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "none"))
	for _, c := range chaosCases {
		t.Run(c.name, func(t *testing.T) {
			x := newFakeIndex(t, demoAny, extra)
			x.user, x.pass = chaosUser, chaosPass
			b := newAuthLog(t)
			var on atomic.Bool
			x.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
				return on.Load() && c.fault(w, r, n, b)
			}
			index := strings.Replace(x.URL(), "http://", "http://"+chaosUser+":"+chaosPass+"@", 1)
			lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + index}, pinOf("demo", "1.0", demoAny), pinOf("extra-pkg", "2.0", extra))
			base := t.TempDir()
			o := options(t, lk)
			o.Out = filepath.Join(base, "out")
			caches := []string{filepath.Join(base, "cache-good"), filepath.Join(base, "cache")}

			o.Cache = caches[0]
			chaosRun(t, o, base, caches, "", "")
			good := snapshot(t, o.Out)

			on.Store(true)
			o.Cache = caches[1]
			chaosRun(t, o, base, caches, c.kind, c.text)
			if after := snapshot(t, o.Out); after != good {
				t.Errorf("out differs after the faulty run:\n%s\n%s", good, after)
			}

			on.Store(false)
			chaosRun(t, o, base, caches, "", "")
			for _, seen := range b.auths() {
				if _, auth, _ := strings.Cut(seen, " "); auth != "" {
					t.Errorf("the other port was sent %q", auth)
				}
			}
		})
	}
}

// chaosRun fetches and checks the outcome (kind "" is success).
func chaosRun(t *testing.T, o Options, base string, caches []string, kind Kind, text string) {
	t.Helper()
	var log, prog bytes.Buffer
	o.Log, o.Progress = &log, &prog
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Fetch(ctx, o)
	switch {
	case kind == "" && err != nil:
		t.Fatalf("fetch failed: %v", err)
	case kind != "" && err == nil:
		t.Fatalf("fetch succeeded; want %s", kind)
	case kind != "" && (!errors.Is(err, kind) || !strings.Contains(err.Error(), text)):
		t.Errorf("error is not %s with %q:\n%v", kind, text, err)
	}
	if err != nil {
		t.Logf("the error:\n%v", err)
	}
	texts := map[string]string{"log": log.String(), "progress": prog.String()}
	if err != nil {
		texts["error"] = err.Error()
	} else {
		data, _ := json.Marshal(res)
		texts["result"] = string(data)
		checkWheelhouse(t, o.Out, demoAny, extra)
	}
	for _, dir := range append([]string{o.Out}, caches...) {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if data, _ := os.ReadFile(p); !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
					texts[p] = string(data)
				}
			}
			return nil
		})
	}
	basicAuth := base64.StdEncoding.EncodeToString([]byte(chaosUser + ":" + chaosPass))
	for where, text := range texts {
		if strings.Contains(text, chaosPass) || strings.Contains(text, basicAuth) {
			t.Errorf("the password is in the %s:\n%s", where, text)
		}
	}
	if s := strayFiles(t, base, append([]string{o.Out}, caches...)...); len(s) > 0 {
		t.Errorf("written outside --out and the cache: %v", s)
	}
	for _, c := range caches {
		checkCache(t, c)
	}
}

// checkWheelhouse checks that out holds exactly the wheels ds and a
// wheelhouse.json listing them with their sha256.
func checkWheelhouse(t *testing.T, out string, ds ...dist) {
	t.Helper()
	idx := readIndex(t, out)
	entries, _ := os.ReadDir(out)
	if len(idx.Wheels) != len(ds) || len(entries) != len(ds)+1 {
		t.Fatalf("out has %d files, its index %+v", len(entries), idx)
	}
	for i, d := range ds {
		e := idx.Wheels[i]
		got, _, err := wheelhouse.HashFile(filepath.Join(out, d.file))
		if e.File != d.file || e.SHA256 != d.sha() || err != nil || got != d.sha() {
			t.Errorf("%s: entry %+v, file sha256 %s %v", d.file, e, got, err)
		}
	}
}
