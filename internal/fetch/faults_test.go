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
	"time"
)

// faultSetup is an index with demo and a lock for it.
func faultSetup(t *testing.T, fault func(w http.ResponseWriter, r *http.Request, n int) bool) (*fakeIndex, Options) {
	t.Helper()
	x := newFakeIndex(t, demoAny)
	x.fault = fault
	lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny))
	return x, options(t, lk)
}

// reset closes the connection with a TCP RST after writing part of a
// response.
func reset(w http.ResponseWriter, partial []byte) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	if partial != nil {
		buf.Write(partial)
		buf.Flush()
	}
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
}

// TestRetriesConnectionReset: the file's connection is reset twice, once
// before the response and once in the middle of the body; the third try
// succeeds and nothing partial stays behind.
func TestRetriesConnectionReset(t *testing.T) {
	x, o := faultSetup(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !strings.HasPrefix(r.URL.Path, "/files/") {
			return false
		}
		switch n {
		case 1:
			reset(w, nil)
			return true
		case 2:
			reset(w, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(demoAny.data), demoAny.data[:500]))
			return true
		}
		return false
	})
	var log logBuffer
	o.Log = &log
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Downloaded != 1 || x.n("/files/"+demoAny.file) != 3 {
		t.Fatalf("result %+v after %d tries", res, x.n("/files/"+demoAny.file))
	}
	if !strings.Contains(log.String(), "retrying") {
		t.Fatalf("log: %s", log.String())
	}
	if got := cacheFiles(t, o.Cache); len(got) != 2 { // the wheel and its sidecar
		t.Fatalf("cache: %v", got)
	}
}

// TestRetryAfter: 503 with Retry-After: 1, then 429 with Retry-After: 0,
// then success: the wait asked for is honoured.
func TestRetryAfter(t *testing.T) {
	x, o := faultSetup(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !strings.HasPrefix(r.URL.Path, "/files/") {
			return false
		}
		switch n {
		case 1:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		case 2:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		return false
	})
	start := time.Now()
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("Retry-After: 1 not honoured: done in %s", d)
	}
	if x.n("/files/"+demoAny.file) != 3 {
		t.Fatalf("%d tries", x.n("/files/"+demoAny.file))
	}
}

// TestRetryAfterTooLong: a server asking for an hour's wait gets an error
// saying so, not a hung fetch.
func TestRetryAfterTooLong(t *testing.T) {
	_, o := faultSetup(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return true
	})
	_, err := Fetch(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "retry after 1h0m0s") {
		t.Fatalf("err = %v", err)
	}
}

// TestServerErrorsExhaustRetries: a 500 every time ends as an unreachable
// source after the allowed attempts, and nothing enters cache or output.
func TestServerErrorsExhaustRetries(t *testing.T) {
	x, o := faultSetup(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasPrefix(r.URL.Path, "/files/") {
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		}
		return false
	})
	_, err := Fetch(context.Background(), o)
	if !errors.Is(err, Unreachable) || !strings.Contains(err.Error(), "500 Internal Server Error") || !strings.Contains(err.Error(), "tried 5 times") {
		t.Fatalf("err = %v", err)
	}
	if x.n("/files/"+demoAny.file) != attempts {
		t.Fatalf("%d tries", x.n("/files/"+demoAny.file))
	}
	if got := cacheFiles(t, o.Cache); len(got) != 0 {
		t.Fatalf("cache: %v", got)
	}
	if _, err := os.Stat(o.Out); !os.IsNotExist(err) {
		t.Fatalf("out was created: %v", err)
	}
}

// TestTamperedBytesRefused: the server sends other bytes than the lock's
// hash: no retry helps, the error says which source served what and what
// the lock allows, and neither cache nor output gets the file.
func TestTamperedBytesRefused(t *testing.T) {
	tampered := append([]byte(nil), demoAny.data...)
	tampered[100] ^= 1
	bad := dist{file: demoAny.file, data: tampered}
	x, o := faultSetup(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasPrefix(r.URL.Path, "/files/") {
			w.Write(tampered)
			return true
		}
		return false
	})
	x.noHash = true // so the page does not give it away first
	_, err := Fetch(context.Background(), o)
	var fe *Error
	if !errors.As(err, &fe) || fe.Problems[0].Kind != HashMismatch {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"demo==1.0 (", "r.txt:2)", x.URL(), "served " + demoAny.file, x.srv.URL + "/files/" + demoAny.file,
		"with sha256 " + bad.sha(), "allows " + demoAny.sha()} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if x.n("/files/"+demoAny.file) != 1 {
		t.Fatalf("a hash mismatch was retried: %d tries", x.n("/files/"+demoAny.file))
	}
	if got := cacheFiles(t, o.Cache); len(got) != 0 {
		t.Fatalf("cache: %v", got)
	}
}

// TestTruncatedForever: a body cut short every time is retried, then
// reported; no partial file remains.
func TestTruncatedForever(t *testing.T) {
	_, o := faultSetup(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasPrefix(r.URL.Path, "/files/") {
			reset(w, fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(demoAny.data), demoAny.data[:700]))
			return true
		}
		return false
	})
	_, err := Fetch(context.Background(), o)
	if !errors.Is(err, Unreachable) {
		t.Fatalf("err = %v", err)
	}
	if got := cacheFiles(t, o.Cache); len(got) != 0 {
		t.Fatalf("cache: %v", got)
	}
}

// TestStalledTransfer: a server that stops sending mid-body is cut off
// after the stall timeout and retried.
func TestStalledTransfer(t *testing.T) {
	old := stallTimeout
	stallTimeout = 300 * time.Millisecond
	defer func() { stallTimeout = old }()
	release := make(chan struct{})
	defer close(release)
	x, o := faultSetup(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasPrefix(r.URL.Path, "/files/") && n == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(demoAny.data)))
			w.Write(demoAny.data[:100])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	})
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if x.n("/files/"+demoAny.file) != 2 {
		t.Fatalf("%d tries", x.n("/files/"+demoAny.file))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              -1,
		"7":                             7 * time.Second,
		"soon":                          -1,
		"Thu, 02 Jan 2025 03:04:35 GMT": 30 * time.Second,
		"Thu, 02 Jan 2025 03:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}
