package fetch

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// checkLinks checks what a page parser returned: every file a plain name
// that stays in the wheelhouse, wheels parsed, hashes 64 hex digits,
// requires-python fit for messages, and locations that are URLs.
func checkLinks(t *testing.T, links []link) {
	t.Helper()
	const dir = "/srv/out"
	for _, l := range links {
		if p, err := wheelhouse.JoinFile(dir, l.file); err != nil || filepath.Dir(p) != dir {
			t.Fatalf("link file %q: %s %v", l.file, p, err)
		}
		if l.isWheel {
			if n, err := wheel.ParseName(l.file); err != nil || n != l.wheel {
				t.Fatalf("wheel %q: %+v %v", l.file, l.wheel, err)
			}
		}
		if l.sha256 != "" && (!isSHA256(l.sha256) || strings.ToLower(l.sha256) != l.sha256) {
			t.Fatalf("%s: sha256 %q", l.file, l.sha256)
		}
		if strings.IndexFunc(l.requiresPython, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			t.Fatalf("%s: requires-python %q", l.file, l.requiresPython)
		}
		if _, err := url.Parse(l.loc); err != nil {
			t.Fatalf("%s: location %q: %v", l.file, l.loc, err)
		}
	}
}

// FuzzParseHTML: no PEP 503 page makes parsing panic or hang, and
// nothing it returns names a path outside the wheelhouse.
func FuzzParseHTML(f *testing.F) {
	sha := strings.Repeat("ab", 32)
	for _, s := range []string{
		`<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.1"><base href="https://cdn.example/pkgs/"></head><body>
<a href="a/demo-1.0-py3-none-any.whl#sha256=` + sha + `" data-requires-python="&gt;=3.8">demo-1.0-py3-none-any.whl</a>
<a href="/blob/0123">demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl</a><a href="demo-1.0.tar.gz"/></body></html>`,
		`<a href="/blob/">hostile-1.0-py3./../../X-none-any.whl</a>`,
		`<a href="/x/..%5C..%5Cdemo-1.0-py3-none-any.whl">x</a>`,
		`<a href="demo-1.0-py3-none-any.whl#sha256=zz">x</a>`,
		`<a href="demo-1.0-py3-none-any.whl#md5">x</a>`,
		`<base href="::"><a href="x">`,
		`<meta name="pypi:repository-version" content="2.0">`,
		`<a href=".demo-1.0-py3-none-any.whl">x</a><a href="demo-1.0-py3-none-any.whl%00">y</a>`,
	} {
		f.Add([]byte(s))
	}
	page := mustURL("https://idx.example/simple/demo/")
	f.Fuzz(func(t *testing.T, body []byte) {
		links, err := parsePage(body, page, "text/html; charset=utf-8")
		if err != nil {
			return
		}
		checkLinks(t, links)
	})
}

// FuzzParseJSON: no PEP 691 page makes parsing panic, and nothing it
// returns names a path outside the wheelhouse.
func FuzzParseJSON(f *testing.F) {
	sha := strings.Repeat("ab", 32)
	for _, s := range []string{
		`{"meta": {"api-version": "1.1"}, "name": "demo", "files": [
			{"filename": "demo-1.0-py3-none-any.whl", "url": "../../files/demo-1.0-py3-none-any.whl", "hashes": {"sha256": "` + sha + `"}, "requires-python": ">=3.9", "size": 123},
			{"filename": "demo-1.0.tar.gz", "url": "https://elsewhere.example/demo-1.0.tar.gz", "hashes": {}}]}`,
		`{"meta": {"api-version": "1.0"}, "files": [{"filename": "hostile-1.0-py3./../../X-none-any.whl", "url": "/blob"}]}`,
		`{"meta": {"api-version": "1.0"}, "files": [{"filename": "..\\..\\demo-1.0.tar.gz", "url": "/blob"}]}`,
		`{"meta": {"api-version": "2.0"}, "files": []}`,
		`{"files": [{"filename": "demo-1.0-py3-none-any.whl", "url": "::"}]}`,
		`{"files": null}`,
	} {
		f.Add([]byte(s))
	}
	page := mustURL("https://idx.example/simple/demo/")
	f.Fuzz(func(t *testing.T, body []byte) {
		links, err := parsePage(body, page, typeJSON)
		if err != nil {
			return
		}
		checkLinks(t, links)
	})
}

// FuzzNetrc: no netrc text makes parsing panic or hang; machine names are
// lower case and found by lookup; without quotes every login and password
// is a word of the text.
func FuzzNetrc(f *testing.F) {
	for _, s := range []string{
		"machine pypi.example.com login alice password \"pa ss\"\nmacdef init\n   cd /pub\n   machine evil login m password n\n\nmachine OTHER login bob password b0b\ndefault login anon password anon-pw\n",
		"# comment\nmachine h login", "password", "macdef", "\"unterminated", "machine \"a\\\"b\" login x",
		"default\nmachine m login l password p account a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		entries := parseNetrc(text)
		words := map[string]bool{"": true}
		for _, w := range strings.FieldsFunc(text, func(r rune) bool { return strings.ContainsRune(" \t\n\r", r) }) {
			words[w] = true
		}
		for _, e := range entries {
			if e.machine != strings.ToLower(e.machine) {
				t.Fatalf("machine %q", e.machine)
			}
			if e.machine != "" {
				if _, _, ok := netrcLookup(entries, e.machine); !ok {
					t.Fatalf("machine %q not found", e.machine)
				}
			}
			if !strings.Contains(text, "\"") && (!words[e.login] || !words[e.password]) {
				t.Fatalf("entry %+v: not words of %q", e, text)
			}
		}
	})
}

// FuzzMetadataHeader: no METADATA makes reading its headers panic, and a
// value found is one line with no control characters (it goes into
// messages).
func FuzzMetadataHeader(f *testing.F) {
	for _, s := range []string{
		"Metadata-Version: 2.1\nName: x\nRequires-Python: >=3.8\n\nbody",
		"Name: x\r\nrequires-python:  >=3.8,\r\n  <4\r\n\r\n", "", "\n", " \n", ":", "Requires-Python:\n \n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v, err := metadataHeader(strings.NewReader(text), "Requires-Python")
		if err != nil {
			t.Fatal(err)
		}
		if strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			t.Fatalf("value %q", v)
		}
	})
}
