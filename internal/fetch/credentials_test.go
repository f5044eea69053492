package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://alice:pw123@host/simple/":                                  "https://alice:***@host/simple/",
		"https://tok3n@host/simple/":                                        "https://***@host/simple/",
		"Get \"http://u:p%40ss@127.0.0.1:80/x\": refused":                   "Get \"http://u:***@127.0.0.1:80/x\": refused",
		"s3://bucket/prefix/":                                               "s3://bucket/prefix/",
		"https://h/f.whl?X-Amz-Signature=abc&X-Amz-Credential=AKIA%2F&ok=1": "https://h/f.whl?X-Amz-Signature=***&X-Amz-Credential=***&ok=1",
		"https://h/f.whl?token=abc#sha256=00":                               "https://h/f.whl?token=***#sha256=00",
		"no url here":                                                       "no url here",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	r := &redactor{}
	r.add("hunter22", "ab") // too short to redact
	if got := r.redact("pw hunter22 ab https://x:y@h/"); got != "pw *** ab https://x:***@h/" {
		t.Errorf("redactor: %q", got)
	}
}

func TestNetrc(t *testing.T) {
	entries := parseNetrc(`# comment
machine pypi.example.com login alice password "pa ss"
macdef init
   cd /pub
   machine evil.example.com login mallory password nope

machine OTHER.example.com
  login bob
  password b0b
default login anon password anon-pw
`)
	for host, want := range map[string]string{
		"pypi.example.com":  "alice:pa ss",
		"other.example.com": "bob:b0b",
		"evil.example.com":  "anon:anon-pw", // the macro's text is no entry
		"else.example.com":  "anon:anon-pw",
	} {
		l, p, ok := netrcLookup(entries, host)
		if !ok || l+":"+p != want {
			t.Errorf("%s: %q %q %v, want %s", host, l, p, ok, want)
		}
	}
}

// TestCredentialsNeverLeak fetches from an index behind basic auth with
// each kind of credential, and from one that refuses them, and checks
// that no password or token reaches the log, the progress output, the
// error, the result or any file written.
func TestCredentialsNeverLeak(t *testing.T) {
	const user, pass, token = "alice", "Pa55-w0rd-XYZ", "tok-1234567890-secret"
	x := newFakeIndex(t, demoAny, extra)
	x.user, x.pass = user, pass
	dir := t.TempDir()
	netrc := filepath.Join(dir, "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1 login "+user+" password "+pass+"\n"), 0o600)

	check := func(t *testing.T, o Options, wantOK bool) {
		t.Helper()
		var log, prog bytes.Buffer
		o.Log, o.Progress = &log, &prog
		res, err := Fetch(context.Background(), o)
		if (err == nil) != wantOK {
			t.Fatalf("err = %v", err)
		}
		var texts []string
		texts = append(texts, log.String(), prog.String())
		if err != nil {
			texts = append(texts, err.Error())
		}
		if res != nil {
			for _, w := range res.Wheels {
				texts = append(texts, w.Source)
			}
		}
		filepath.WalkDir(filepath.Dir(o.Out), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".whl") && !strings.HasSuffix(p, ".txt") {
				data, _ := os.ReadFile(p)
				if !bytes.HasPrefix(data, []byte("PK\x03\x04")) { // a wheel in the cache
					texts = append(texts, string(data))
				}
			}
			return nil
		})
		for _, text := range texts {
			for _, secret := range []string{pass, token} {
				if strings.Contains(text, secret) {
					t.Errorf("secret %q appears in:\n%s", secret, text)
				}
			}
		}
	}

	for name, setup := range map[string]func(t *testing.T) Options{
		"password in the lock's index URL": func(t *testing.T) Options {
			u := strings.Replace(x.URL(), "http://", "http://"+user+":"+pass+"@", 1)
			return options(t, writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + u}, pinOf("demo", "1.0", demoAny), pinOf("extra-pkg", "2.0", extra)))
		},
		"password in --source": func(t *testing.T) Options {
			o := options(t, writeLock(t, filepath.Join(t.TempDir(), "r.txt"), nil, pinOf("demo", "1.0", demoAny)))
			o.Sources = []string{strings.Replace(x.URL(), "http://", "http://"+user+":"+pass+"@", 1)}
			return o
		},
		"netrc": func(t *testing.T) Options {
			t.Setenv("NETRC", netrc)
			return options(t, writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny)))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("NETRC", filepath.Join(dir, "none"))
			check(t, setup(t), true)
		})
	}

	// Tokens: the index takes user __token__ and the token as password.
	x.user, x.pass = "__token__", token
	t.Run("host token variable", func(t *testing.T) {
		t.Setenv(EnvTokenPrefix+EnvHost("127.0.0.1"), token)
		check(t, options(t, writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny))), true)
	})
	t.Run("generic token for --source hosts only", func(t *testing.T) {
		t.Setenv(EnvToken, token)
		t.Setenv("NETRC", filepath.Join(dir, "none"))
		lk := writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny))
		check(t, options(t, lk), false) // the lock's own index is not --source: no token sent
		o := options(t, lk)
		o.Sources = []string{x.URL()}
		check(t, o, true)
	})
	t.Run("refused token", func(t *testing.T) {
		t.Setenv(EnvTokenPrefix+EnvHost("127.0.0.1"), token+"-old")
		check(t, options(t, writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny))), false)
	})
	t.Run("refused password in URL", func(t *testing.T) {
		u := strings.Replace(x.URL(), "http://", "http://"+user+":"+pass+"@", 1)
		check(t, options(t, writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + u}, pinOf("demo", "1.0", demoAny))), false)
	})
}

// TestOrigin: credentials belong to a scheme, host and port; default
// ports are the same origin as none.
func TestOrigin(t *testing.T) {
	same := [][2]string{
		{"http://h/simple/", "http://H:80/files/x"},
		{"https://h/", "https://h:443/"},
		{"http://u:p@127.0.0.1:8080/a", "http://127.0.0.1:8080/b"},
		{"http://[::1]:81/", "http://[::1]:81/x"},
	}
	differ := [][2]string{
		{"http://h/", "https://h/"},
		{"http://h:8080/", "http://h:8081/"},
		{"http://h/", "http://sub.h/"},
		{"https://h/", "https://h:8443/"},
	}
	for _, p := range same {
		if a, b := origin(mustURL(p[0])), origin(mustURL(p[1])); a != b {
			t.Errorf("%s and %s: %s != %s", p[0], p[1], a, b)
		}
	}
	for _, p := range differ {
		if a, b := origin(mustURL(p[0])), origin(mustURL(p[1])); a == b {
			t.Errorf("%s and %s: both %s", p[0], p[1], a)
		}
	}
}

// TestKnownSecretInLinks: an index that puts the token it was sent into
// its download URLs (as some do) gets no copy of it written into the
// cache's records, wheelhouse.json or the result. (Before, the cache's
// sidecar and choice records kept the URL as the page gave it.)
func TestKnownSecretInLinks(t *testing.T) {
	const token = "tok-in-the-path-0987654321"
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "none"))
	t.Setenv(EnvTokenPrefix+EnvHost("127.0.0.1"), token)
	x := newFakeIndex(t, demoAny)
	x.user, x.pass = defaultTokenUser, token
	x.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch r.URL.Path {
		case "/simple/demo/":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<a href="/dl/%s/%s#sha256=%s">%s</a>`, token, demoAny.file, demoAny.sha(), demoAny.file)
		case "/dl/" + token + "/" + demoAny.file:
			w.Write(demoAny.data)
		default:
			return false
		}
		return true
	}
	o := options(t, writeLock(t, filepath.Join(t.TempDir(), "r.txt"), []string{"--index-url " + x.URL()}, pinOf("demo", "1.0", demoAny)))
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(res)
	texts := []string{string(data)}
	filepath.WalkDir(filepath.Dir(o.Out), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".whl") && !strings.HasSuffix(p, ".txt") {
			if data, _ := os.ReadFile(p); !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
				texts = append(texts, p+": "+string(data))
			}
		}
		return nil
	})
	for _, text := range texts {
		if strings.Contains(text, token) {
			t.Errorf("the token is in %s", text)
		}
	}
}
