package fetch

import "testing"

func TestParsePages(t *testing.T) {
	page := mustURL("https://idx.example/simple/demo/")
	links, err := parsePage([]byte(`<!DOCTYPE html><html><head>
<meta name="pypi:repository-version" content="1.1"><base href="https://cdn.example/pkgs/"></head><body>
<a href="a/demo-1.0-py3-none-any.whl#sha256=`+demoAny.sha()+`" data-requires-python="&gt;=3.8">demo-1.0-py3-none-any.whl</a>
<a href="/blob/0123">demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl</a>
<a href="demo-1.0%2Blocal-py3-none-any.whl#md5=abc">x</a>
<a href="demo-1.0.tar.gz">demo-1.0.tar.gz</a>
<a href="README.txt">readme</a>
<a name="no-href">nothing</a>
</body></html>`), page, "text/html; charset=utf-8")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ file, loc, sha, rp string }{
		{"demo-1.0-py3-none-any.whl", "https://cdn.example/pkgs/a/demo-1.0-py3-none-any.whl", demoAny.sha(), ">=3.8"},
		{"demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "https://cdn.example/blob/0123", "", ""},
		{"demo-1.0+local-py3-none-any.whl", "https://cdn.example/pkgs/demo-1.0%2Blocal-py3-none-any.whl", "", ""},
		{"demo-1.0.tar.gz", "https://cdn.example/pkgs/demo-1.0.tar.gz", "", ""},
	}
	if len(links) != len(want) {
		t.Fatalf("%d links: %+v", len(links), links)
	}
	for i, w := range want {
		l := links[i]
		if l.file != w.file || l.loc != w.loc || l.sha256 != w.sha || l.requiresPython != w.rp || l.project() != "demo" {
			t.Errorf("link %d: %+v, want %+v", i, l, w)
		}
	}
	if links[3].isWheel || links[3].version != "1.0" {
		t.Errorf("sdist: %+v", links[3])
	}

	links, err = parsePage([]byte(`{"meta": {"api-version": "1.1"}, "name": "demo", "files": [
		{"filename": "demo-1.0-py3-none-any.whl", "url": "../../files/demo-1.0-py3-none-any.whl", "hashes": {"sha256": "`+demoAny.sha()+`"}, "requires-python": ">=3.9", "size": 123},
		{"filename": "demo-1.0.tar.gz", "url": "https://elsewhere.example/demo-1.0.tar.gz", "hashes": {}}
	]}`), page, typeJSON)
	if err != nil || len(links) != 2 {
		t.Fatalf("%v %+v", err, links)
	}
	if l := links[0]; l.loc != "https://idx.example/files/demo-1.0-py3-none-any.whl" || l.sha256 != demoAny.sha() || l.size != 123 || l.requiresPython != ">=3.9" {
		t.Errorf("json link: %+v", l)
	}
}
