package fetch

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeIndex is a loopback PEP 503/691 index of made-up files, with hooks
// for faults: /simple/<project>/ lists, /files/<file> serves.
type fakeIndex struct {
	srv *httptest.Server

	mu       sync.Mutex
	files    map[string][]byte   // by file name
	projects map[string][]string // project → file names
	noHash   bool                // leave hashes out of the pages
	json     bool                // answer PEP 691 JSON
	user     string              // basic auth, when set
	pass     string
	requests []string
	// fault, when set, may answer a request itself (returning true).
	fault func(w http.ResponseWriter, r *http.Request, n int) bool
	count map[string]int // requests per path
}

func newFakeIndex(t *testing.T, ds ...dist) *fakeIndex {
	x := &fakeIndex{files: map[string][]byte{}, projects: map[string][]string{}, count: map[string]int{}}
	for _, d := range ds {
		x.add(d)
	}
	x.srv = httptest.NewServer(http.HandlerFunc(x.serve))
	t.Cleanup(x.srv.Close)
	return x
}

func (x *fakeIndex) add(d dist) {
	x.mu.Lock()
	defer x.mu.Unlock()
	l, ok := newLink(d.file, "")
	if !ok {
		panic("not a dist file: " + d.file)
	}
	x.files[d.file] = d.data
	x.projects[l.project()] = append(x.projects[l.project()], d.file)
}

// URL is the index URL (…/simple/).
func (x *fakeIndex) URL() string { return x.srv.URL + "/simple/" }

func (x *fakeIndex) Requests() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]string(nil), x.requests...)
}

func (x *fakeIndex) serve(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	x.requests = append(x.requests, r.URL.Path)
	x.count[r.URL.Path]++
	n := x.count[r.URL.Path]
	fault := x.fault
	x.mu.Unlock()
	if x.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != x.user || p != x.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "401 unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if fault != nil && fault(w, r, n) {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/simple/"):
		project := strings.Trim(strings.TrimPrefix(r.URL.Path, "/simple/"), "/")
		files, ok := x.projects[project]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if x.json {
			type file struct {
				Filename string            `json:"filename"`
				URL      string            `json:"url"`
				Hashes   map[string]string `json:"hashes"`
			}
			doc := map[string]any{"meta": map[string]string{"api-version": "1.1"}, "name": project}
			var fs []file
			for _, f := range files {
				h := map[string]string{}
				if !x.noHash {
					h["sha256"] = dist{data: x.files[f]}.sha()
				}
				fs = append(fs, file{f, "../../files/" + f, h})
			}
			doc["files"] = fs
			w.Header().Set("Content-Type", typeJSON)
			json.NewEncoder(w).Encode(doc)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html><html><body><h1>Links for %s</h1>\n", project)
		for _, f := range files {
			frag := ""
			if !x.noHash {
				frag = "#sha256=" + dist{data: x.files[f]}.sha()
			}
			fmt.Fprintf(w, "<a href=\"../../files/%s%s\">%s</a><br>\n", f, frag, html.EscapeString(f))
		}
		fmt.Fprint(w, "</body></html>\n")
	case strings.HasPrefix(r.URL.Path, "/files/"):
		data, ok := x.files[strings.TrimPrefix(r.URL.Path, "/files/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
	default:
		http.NotFound(w, r)
	}
}

// n is the number of requests for a path.
func (x *fakeIndex) n(path string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.count[path]
}
