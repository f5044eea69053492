package fetch

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
)

// Environment variables that carry index tokens. A token is sent as the
// password of HTTP basic auth, the scheme every pip-compatible index
// accepts (GitLab, Artifactory, Nexus, CodeArtifact, Artifact Registry);
// the user name defaults to __token__.
const (
	// EnvToken holds a token for the origins (scheme, host and port) of
	// the sources named in Options.Sources (--source), and for no other.
	EnvToken = "PIPBAKE_INDEX_TOKEN"
	// EnvUser is the user name sent with EnvToken.
	EnvUser = "PIPBAKE_INDEX_USER"
	// EnvTokenPrefix + HOST holds a token for one host, wherever its URL
	// comes from: HOST is the host name in upper case with every
	// character other than a letter or digit replaced by "_", e.g.
	// PIPBAKE_INDEX_TOKEN_PYPI_EXAMPLE_COM. EnvUserPrefix + HOST is its
	// user name.
	EnvTokenPrefix = "PIPBAKE_INDEX_TOKEN_"
	EnvUserPrefix  = "PIPBAKE_INDEX_USER_"
)

const defaultTokenUser = "__token__"

// EnvHost returns the suffix of the per-host token variables for a host.
func EnvHost(host string) string {
	b := []byte(strings.ToUpper(host))
	for i, c := range b {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

type userPass struct{ user, pass string }

// origin is a URL's scheme, host and port, the unit credentials belong
// to: "http://127.0.0.1:8080", "https://pypi.example.com:443".
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// credentials finds what to authenticate a request with, from (in this
// order) the user:password of a source URL of the same origin (scheme,
// host and port), the host's token variable, PIPBAKE_INDEX_TOKEN for the
// origins of explicitly named sources, and netrc (whose entries name a
// host, as curl and pip read them). Every password and token it hands out
// is given to the redactor first.
type credentials struct {
	red *redactor

	mu       sync.Mutex
	fromURL  map[string]userPass // by origin
	explicit map[string]bool     // origins of Options.Sources

	netrcOnce sync.Once
	netrc     []netrcEntry
	netrcErr  error

	// npm holds .npmrc registry credentials (npm fetches only); they
	// come first for the URLs their keys match.
	npm *npmAuth
}

func newCredentials(red *redactor) *credentials {
	c := &credentials{red: red, fromURL: map[string]userPass{}, explicit: map[string]bool{}}
	// Known before any request, so any stray appearance is redacted.
	red.add(os.Getenv(EnvToken))
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, EnvTokenPrefix) {
			red.add(v)
		}
	}
	return c
}

// addSource takes the user:password out of a source URL, remembering it
// for the URL's origin, and returns the URL without it.
func (c *credentials) addSource(u *url.URL, explicit bool) *url.URL {
	c.mu.Lock()
	defer c.mu.Unlock()
	if explicit {
		c.explicit[origin(u)] = true
	}
	if u.User == nil {
		return u
	}
	user := u.User.Username()
	pass, hasPass := u.User.Password()
	if !hasPass { // https://TOKEN@host/: the user name is the secret
		c.red.add(user)
	}
	c.red.add(pass)
	c.fromURL[origin(u)] = userPass{user, pass}
	clean := *u
	clean.User = nil
	return &clean
}

// lookup returns the credentials for a URL's origin, if any.
func (c *credentials) lookup(u *url.URL) (userPass, bool) {
	c.mu.Lock()
	up, ok := c.fromURL[origin(u)]
	explicit := c.explicit[origin(u)]
	c.mu.Unlock()
	if ok {
		return up, true
	}
	host := strings.ToLower(u.Hostname())
	if tok := os.Getenv(EnvTokenPrefix + EnvHost(host)); tok != "" {
		c.red.add(tok)
		return userPass{envOr(EnvUserPrefix+EnvHost(host), defaultTokenUser), tok}, true
	}
	if tok := os.Getenv(EnvToken); tok != "" && explicit {
		c.red.add(tok)
		return userPass{envOr(EnvUser, defaultTokenUser), tok}, true
	}
	c.netrcOnce.Do(func() {
		c.netrc, c.netrcErr = readNetrc(netrcPath())
		for _, e := range c.netrc {
			c.red.add(e.password)
		}
	})
	if login, pass, ok := netrcLookup(c.netrc, host); ok {
		return userPass{login, pass}, true
	}
	return userPass{}, false
}

// authorize sets basic auth on a request to an HTTP(S) URL: the
// credentials of its origin, and no others.
func (c *credentials) authorize(req *http.Request) {
	req.Header.Del("Authorization")
	if req.URL.User != nil { // never sent in the URL itself
		req.URL = c.addSource(req.URL, false)
	}
	if h, ok := c.npm.header(req.URL); ok {
		req.Header.Set("Authorization", h)
		return
	}
	if up, ok := c.lookup(req.URL); ok {
		req.SetBasicAuth(up.user, up.pass)
	}
}

// maxRedirects is how many redirects one request follows (as Go's
// client and pip do, about).
const maxRedirects = 10

// checkRedirect is the redirect policy of every client fetch uses. Go's
// client carries Authorization to any port and scheme of the same host
// and to its subdomains; here each hop carries only the credentials of
// its own origin. A user:password in a Location is dropped, never used.
// next is the client's own policy, if it had one.
func (c *credentials) checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return &sourceError{kind: Unreachable, msg: fmt.Sprintf("stopped after %d redirects (a redirect loop?) at %s", len(via), Redact(via[0].URL.String()))}
		}
		if req.URL.User != nil {
			clean := *req.URL
			clean.User = nil
			req.URL = &clean
		}
		req.Header.Del("Authorization")
		if h, ok := c.npm.header(req.URL); ok {
			req.Header.Set("Authorization", h)
		} else if up, ok := c.lookup(req.URL); ok {
			req.SetBasicAuth(up.user, up.pass)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

// withRedirectPolicy returns a copy of client that follows redirects with
// c's policy.
func (c *credentials) withRedirectPolicy(client *http.Client) *http.Client {
	cl := *client
	cl.CheckRedirect = c.checkRedirect(client.CheckRedirect)
	return &cl
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
