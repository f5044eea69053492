package fetch

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzNPMRC: no .npmrc crashes the reader; every token it reads is
// redacted wherever it appears, and a URL gets only the credentials of a
// key that names its host.
func FuzzNPMRC(f *testing.F) {
	f.Add("//registry.example.com/:_authToken=abcdef123\n", "https://registry.example.com/a/-/a-1.0.0.tgz")
	f.Add("registry=https://r.example/\n//r.example/npm/:_auth=dXNlcjpwYXNzd29yZA==\n", "https://r.example/npm/@s/b/-/b-1.tgz")
	f.Add("//h:8080/:username=u\n//h:8080/:_password=cGFzc3dvcmQ=\n; comment\n# comment\n", "http://h:8080/x")
	f.Add("//h/:_authToken=${HOME}\n", "https://other/x")
	f.Fuzz(func(t *testing.T, text, rawURL string) {
		p := filepath.Join(t.TempDir(), ".npmrc")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		red := &redactor{}
		a, err := readNPMRC(red, p)
		if err != nil {
			return
		}
		for dart, c := range a.entries {
			if len(c.token) >= 4 && strings.Contains(red.redact("x "+c.token+" y"), c.token) {
				t.Fatalf("token of %s not redacted", dart)
			}
		}
		u, err := url.Parse(rawURL)
		if err != nil || u.Host == "" {
			return
		}
		if _, ok := a.header(u); ok {
			host := strings.ToLower(u.Host)
			found := false
			for dart := range a.entries {
				h := strings.TrimPrefix(dart, "//")
				h, _, _ = strings.Cut(h, "/")
				if h == host || h == strings.ToLower(u.Hostname()) {
					found = true
				}
			}
			if !found {
				t.Fatalf("credentials for %s, which no key names", u.Host)
			}
		}
	})
}
