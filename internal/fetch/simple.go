package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// Content types of the simple repository API.
const (
	typeJSON = "application/vnd.pypi.simple.v1+json" // PEP 691
	typeHTML = "application/vnd.pypi.simple.v1+html" // PEP 691's name for PEP 503 HTML
	// accept prefers JSON, then HTML, as PEP 691 recommends.
	accept = typeJSON + ", " + typeHTML + ";q=0.2, text/html;q=0.01"
	// maxPage bounds an index page.
	maxPage = 64 << 20
)

// indexSource is a PEP 503 (HTML) or PEP 691 (JSON) simple index:
// BASE/<normalized-name>/ lists a project's files.
type indexSource struct {
	f    *fetcher
	base *url.URL // without credentials, ending in "/"
}

func (s *indexSource) String() string { return Redact(s.base.String()) }

func (s *indexSource) list(ctx context.Context, project string) ([]link, error) {
	u := s.base.JoinPath(project)
	u.Path += "/"
	body, final, ctype, err := s.f.httpGetAll(ctx, u, accept, maxPage)
	var se *statusError
	if errors.As(err, &se) && (se.code == 404 || se.code == 410) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	links, err := parsePage(body, final, ctype)
	if err != nil {
		return nil, &sourceError{kind: MalformedIndex, msg: Redact(final.String()), err: err}
	}
	var out []link
	for _, l := range links {
		if l.project() == project {
			out = append(out, l)
		}
	}
	return out, nil
}

func (s *indexSource) open(ctx context.Context, l link) (io.ReadCloser, int64, error) {
	u, err := url.Parse(l.loc)
	if err != nil {
		return nil, 0, err
	}
	return s.f.httpOpen(ctx, u)
}

// flatSource is one HTML page of links to files (pip's --find-links URL),
// read once.
type flatSource struct {
	f    *fetcher
	page *url.URL

	once  sync.Once
	links map[string][]link
	err   error
}

func (s *flatSource) String() string { return Redact(s.page.String()) }

func (s *flatSource) list(ctx context.Context, project string) ([]link, error) {
	s.once.Do(func() {
		body, final, ctype, err := s.f.httpGetAll(ctx, s.page, "text/html", maxPage)
		if err != nil {
			s.err = err
			return
		}
		links, err := parsePage(body, final, ctype)
		if err != nil {
			s.err = &sourceError{kind: MalformedIndex, msg: Redact(final.String()), err: err}
			return
		}
		s.links = map[string][]link{}
		for _, l := range links {
			s.links[l.project()] = append(s.links[l.project()], l)
		}
	})
	return s.links[project], s.err
}

func (s *flatSource) open(ctx context.Context, l link) (io.ReadCloser, int64, error) {
	return (&indexSource{f: s.f}).open(ctx, l)
}

// parsePage reads a simple index page by its content type. Files that are
// neither wheels nor sdists are left out.
func parsePage(body []byte, page *url.URL, ctype string) ([]link, error) {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil && ctype != "" {
		return nil, fmt.Errorf("unreadable content type %q", ctype)
	}
	switch {
	case mt == typeJSON:
		return parseJSON(body, page)
	case mt == typeHTML || mt == "text/html":
		return parseHTML(body, page)
	case strings.HasPrefix(mt, "application/vnd.pypi.simple."):
		return nil, fmt.Errorf("content type %q is a simple API version pipbake does not read (it reads v1)", mt)
	case mt == "application/json" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		return parseJSON(body, page) // a static JSON tree served with a plain type
	}
	return nil, fmt.Errorf("content type %q is neither PEP 503 HTML nor PEP 691 JSON", ctype)
}

// pageFile is one file of a PEP 691 project page.
type pageFile struct {
	Filename       string            `json:"filename"`
	URL            string            `json:"url"`
	Hashes         map[string]string `json:"hashes"`
	RequiresPython *string           `json:"requires-python"`
	Size           *int64            `json:"size"`
}

// parseJSON reads a PEP 691 project page.
func parseJSON(body []byte, page *url.URL) ([]link, error) {
	var doc struct {
		Meta struct {
			APIVersion string `json:"api-version"`
		} `json:"meta"`
		Name  string      `json:"name"`
		Files *[]pageFile `json:"files"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("invalid PEP 691 JSON: %w", err)
	}
	if err := checkAPIVersion(doc.Meta.APIVersion); err != nil {
		return nil, err
	}
	if doc.Files == nil {
		return nil, errors.New("PEP 691 JSON page has no files key")
	}
	var out []link
	for i, f := range *doc.Files {
		if f.Filename == "" || f.URL == "" {
			return nil, fmt.Errorf("PEP 691 file %d has no filename or url", i+1)
		}
		ref, err := url.Parse(f.URL)
		if err != nil {
			return nil, fmt.Errorf("file %s: bad url: %w", f.Filename, err)
		}
		if err := checkDistName(f.Filename); err != nil {
			return nil, fmt.Errorf("PEP 691 file %d: %w", i+1, err)
		}
		l, ok := newLink(f.Filename, page.ResolveReference(ref).String())
		if !ok {
			continue
		}
		if h, ok := f.Hashes["sha256"]; ok {
			if !isSHA256(h) {
				return nil, fmt.Errorf("file %s: sha256 %q is not 64 hex digits", f.Filename, h)
			}
			l.sha256 = strings.ToLower(h)
		}
		if f.RequiresPython != nil {
			l.requiresPython = printable(*f.RequiresPython)
		}
		if f.Size != nil {
			l.size = *f.Size
		}
		out = append(out, l)
	}
	return out, nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func isSHA256(s string) bool { return sha256Hex.MatchString(s) }

// checkAPIVersion accepts a missing version (PEP 503 pages predate it) and
// any 1.x.
func checkAPIVersion(v string) error {
	if v == "" {
		return nil
	}
	major, _, _ := strings.Cut(v, ".")
	if major != "1" {
		return fmt.Errorf("simple API version %q is not supported (pipbake reads 1.x)", v)
	}
	return nil
}

// parseHTML reads a PEP 503 page (or a find-links page): every <a href>,
// the file name from the URL's last path segment (the anchor text when
// that is not a file name), the hash from the URL fragment, requires-
// python from data-requires-python, relative URLs against <base href> or
// the page.
func parseHTML(body []byte, page *url.URL) ([]link, error) {
	base := page
	var out []link
	z := html.NewTokenizer(bytes.NewReader(body))
	var cur *link
	var text strings.Builder
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if err := z.Err(); err != io.EOF {
				return nil, fmt.Errorf("invalid HTML: %w", err)
			}
			return out, nil
		case html.TextToken:
			if cur != nil {
				text.Write(z.Text())
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if atom.Lookup(name) == atom.A && cur != nil {
				l, ok, err := finishAnchor(*cur, strings.TrimSpace(text.String()), base)
				if err != nil {
					return nil, err
				}
				if ok {
					out = append(out, l)
				}
				cur = nil
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
			}
			switch atom.Lookup(name) {
			case atom.Base:
				if href, ok := attrs["href"]; ok {
					ref, err := url.Parse(strings.TrimSpace(href))
					if err != nil {
						return nil, fmt.Errorf("bad <base href=%q>: %w", href, err)
					}
					base = page.ResolveReference(ref)
				}
			case atom.Meta:
				if attrs["name"] == "pypi:repository-version" {
					if err := checkAPIVersion(attrs["content"]); err != nil {
						return nil, err
					}
				}
			case atom.A:
				href, ok := attrs["href"]
				if !ok {
					continue
				}
				cur = &link{loc: strings.TrimSpace(href), requiresPython: attrs["data-requires-python"]}
				text.Reset()
				if tt == html.SelfClosingTagToken {
					l, ok, err := finishAnchor(*cur, "", base)
					if err != nil {
						return nil, err
					}
					if ok {
						out = append(out, l)
					}
					cur = nil
				}
			}
		}
	}
}

// finishAnchor turns an anchor into a link.
func finishAnchor(a link, text string, base *url.URL) (link, bool, error) {
	ref, err := url.Parse(a.loc)
	if err != nil {
		return link{}, false, fmt.Errorf("bad link %q: %w", Redact(a.loc), err)
	}
	u := base.ResolveReference(ref)
	frag := u.Fragment
	u.Fragment, u.RawFragment = "", ""
	file := path.Base(u.Path)
	if !isDistFile(file) && hasDistSuffix(text) {
		file = text
	}
	if err := checkDistName(file); err != nil {
		return link{}, false, fmt.Errorf("link to %s: %w", Redact(u.String()), err)
	}
	l, ok := newLink(file, u.String())
	if !ok {
		return link{}, false, nil
	}
	l.requiresPython = printable(a.requiresPython)
	if frag != "" {
		algo, digest, found := strings.Cut(frag, "=")
		if !found || algo == "" || digest == "" {
			return link{}, false, fmt.Errorf("link to %s has a malformed hash fragment #%s (want #sha256=HEX)", file, frag)
		}
		if strings.EqualFold(algo, "sha256") {
			if !isSHA256(digest) {
				return link{}, false, fmt.Errorf("link to %s: sha256 %q is not 64 hex digits", file, digest)
			}
			l.sha256 = strings.ToLower(digest)
		}
	}
	return l, true, nil
}

// hasDistSuffix says whether a name ends as a wheel or an sdist does.
func hasDistSuffix(name string) bool {
	lower := strings.ToLower(name)
	for _, ext := range distExts {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// checkDistName refuses a distribution file name that is no plain file
// name (wheel.CheckFileName): an index offering one is hostile or broken.
// Names of other files are left alone; they are never fetched.
func checkDistName(name string) error {
	if !hasDistSuffix(name) {
		return nil
	}
	return wheel.CheckFileName(name)
}

func isDistFile(name string) bool {
	_, ok := newLink(name, "")
	return ok
}
