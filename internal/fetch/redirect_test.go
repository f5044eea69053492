package fetch

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// authLog is a loopback server that serves demoAny's file and page and
// records the Authorization header of every request.
type authLog struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string // "path auth"
}

func newAuthLog(t *testing.T) *authLog {
	a := &authLog{}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authLog) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.seen = append(a.seen, r.URL.Path+" "+r.Header.Get("Authorization"))
	a.mu.Unlock()
	if r.URL.Path == "/files/"+demoAny.file {
		w.Write(demoAny.data)
		return
	}
	http.NotFound(w, r)
}

func (a *authLog) auths() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// redirectingIndex is an index behind basic auth (want) whose page lists
// demoAny and whose file URL answers 302 to target.
func redirectingIndex(t *testing.T, want string, target func() string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			http.Error(w, "401", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/simple/demo/":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<a href="/files/%s#sha256=%s">%s</a>`, demoAny.file, demoAny.sha(), demoAny.file)
		case "/files/" + demoAny.file:
			http.Redirect(w, r, target()+"/files/"+demoAny.file, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func port(t *testing.T, srv *httptest.Server) string {
	_, p, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRedirectCredentials: an index on one origin answers 302 to a server
// on another origin (another port of the same host, or another host):
// the credentials of the first never reach the second, which gets only
// what belongs to it (a netrc entry for its host). (Before, the index's
// Authorization followed the redirect to another port, and to a
// subdomain on the same port.)
func TestRedirectCredentials(t *testing.T) {
	const user, pass, token = "alice", "Pa55-w0rd-XYZ", "tok-1234567890-secret"
	dir := t.TempDir()
	noNetrc := filepath.Join(dir, "none")
	writeNetrc := func(text string) string {
		p := filepath.Join(t.TempDir(), "netrc")
		os.WriteFile(p, []byte(text), 0o600)
		return p
	}
	fetchDemo := func(t *testing.T, index string, sources []string) {
		t.Helper()
		lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + index}, pinOf("demo", "1.0", demoAny))
		o := options(t, lk)
		o.Sources = sources
		var log logBuffer
		o.Log = &log
		res, err := Fetch(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		texts := []string{log.String(), res.Wheels[0].Source, string(mustRead(t, filepath.Join(o.Out, "wheelhouse.json")))}
		for _, text := range texts {
			for _, s := range []string{pass, token} {
				if strings.Contains(text, s) {
					t.Errorf("secret in output: %s", text)
				}
			}
		}
	}
	host := func(t *testing.T, srv *httptest.Server, name string) string {
		return "http://" + name + ":" + port(t, srv)
	}

	t.Run("password in the index URL, another port", func(t *testing.T) {
		t.Setenv("NETRC", noNetrc)
		b := newAuthLog(t)
		a := redirectingIndex(t, basic(user, pass), func() string { return b.srv.URL })
		fetchDemo(t, "http://"+user+":"+pass+"@"+a.Listener.Addr().String()+"/simple/", nil)
		if got := b.auths(); len(got) != 1 || got[0] != "/files/"+demoAny.file+" " {
			t.Errorf("B saw %q", got)
		}
	})
	t.Run("password in the index URL, netrc entry for the host", func(t *testing.T) {
		t.Setenv("NETRC", writeNetrc("machine 127.0.0.1 login bob password b0b-netrc-pw\n"))
		b := newAuthLog(t)
		a := redirectingIndex(t, basic(user, pass), func() string { return b.srv.URL })
		fetchDemo(t, "http://"+user+":"+pass+"@"+a.Listener.Addr().String()+"/simple/", nil)
		if got := b.auths(); len(got) != 1 || got[0] != "/files/"+demoAny.file+" "+basic("bob", "b0b-netrc-pw") {
			t.Errorf("B saw %q, want bob's netrc entry, the one for its host", got)
		}
	})
	t.Run("netrc, another host", func(t *testing.T) {
		t.Setenv("NETRC", writeNetrc("machine localhost login "+user+" password "+pass+"\n"))
		b := newAuthLog(t)
		a := redirectingIndex(t, basic(user, pass), func() string { return b.srv.URL })
		fetchDemo(t, host(t, a, "localhost")+"/simple/", nil)
		if got := b.auths(); len(got) != 1 || got[0] != "/files/"+demoAny.file+" " {
			t.Errorf("B saw %q", got)
		}
	})
	t.Run("generic token of a --source, another port", func(t *testing.T) {
		t.Setenv("NETRC", noNetrc)
		t.Setenv(EnvToken, token)
		b := newAuthLog(t)
		a := redirectingIndex(t, basic(defaultTokenUser, token), func() string { return b.srv.URL })
		fetchDemo(t, "http://unused.invalid/simple/", []string{a.URL + "/simple/"})
		if got := b.auths(); len(got) != 1 || got[0] != "/files/"+demoAny.file+" " {
			t.Errorf("B saw %q", got)
		}
	})
	t.Run("host token, another host", func(t *testing.T) {
		t.Setenv("NETRC", noNetrc)
		t.Setenv(EnvTokenPrefix+EnvHost("localhost"), token)
		b := newAuthLog(t)
		a := redirectingIndex(t, basic(defaultTokenUser, token), func() string { return b.srv.URL })
		fetchDemo(t, host(t, a, "localhost")+"/simple/", nil)
		if got := b.auths(); len(got) != 1 || got[0] != "/files/"+demoAny.file+" " {
			t.Errorf("B saw %q", got)
		}
	})
	t.Run("password in the index URL, subdomain on the same port", func(t *testing.T) {
		t.Setenv("NETRC", noNetrc)
		// One server for idx.test and files.idx.test; names resolve to
		// loopback through the client's dialer.
		b := &authLog{}
		var a *httptest.Server
		idx := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.Host, "files.") {
				b.serve(w, r)
				return
			}
			if r.Header.Get("Authorization") != basic(user, pass) {
				http.Error(w, "401", http.StatusUnauthorized)
				return
			}
			switch r.URL.Path {
			case "/simple/demo/":
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprintf(w, `<a href="/files/%s#sha256=%s">%s</a>`, demoAny.file, demoAny.sha(), demoAny.file)
			default:
				http.Redirect(w, r, "http://files.idx.test:"+port(t, a)+r.URL.Path, http.StatusFound)
			}
		})
		a = httptest.NewServer(idx)
		t.Cleanup(a.Close)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, a.Listener.Addr().String())
		}
		lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url http://" + user + ":" + pass + "@idx.test:" + port(t, a) + "/simple/"}, pinOf("demo", "1.0", demoAny))
		o := options(t, lk)
		o.HTTPClient = &http.Client{Transport: tr}
		if _, err := Fetch(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		if got := b.auths(); len(got) != 1 || got[0] != "/files/"+demoAny.file+" " {
			t.Errorf("files.idx.test saw %q", got)
		}
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
