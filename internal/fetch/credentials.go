package fetch

import (
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
	// EnvToken holds a token for the hosts of the sources named in
	// Options.Sources (--source), and for no other host.
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

// credentials finds what to authenticate a request to a host with, from
// (in this order) the user:password of a source URL on that host, the
// host's token variable, PIPBAKE_INDEX_TOKEN for hosts of explicitly
// named sources, and netrc. Every password and token it hands out is
// given to the redactor first.
type credentials struct {
	red      *redactor
	fromURL  map[string]userPass // by host[:port]
	explicit map[string]bool     // hosts (without port) of Options.Sources

	netrcOnce sync.Once
	netrc     []netrcEntry
	netrcErr  error
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
// for the URL's host, and returns the URL without it.
func (c *credentials) addSource(u *url.URL, explicit bool) *url.URL {
	if explicit {
		c.explicit[strings.ToLower(u.Hostname())] = true
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
	c.fromURL[strings.ToLower(u.Host)] = userPass{user, pass}
	clean := *u
	clean.User = nil
	return &clean
}

// lookup returns the credentials for a URL's host, if any.
func (c *credentials) lookup(u *url.URL) (userPass, bool) {
	if up, ok := c.fromURL[strings.ToLower(u.Host)]; ok {
		return up, true
	}
	host := strings.ToLower(u.Hostname())
	if tok := os.Getenv(EnvTokenPrefix + EnvHost(host)); tok != "" {
		c.red.add(tok)
		return userPass{envOr(EnvUserPrefix+EnvHost(host), defaultTokenUser), tok}, true
	}
	if tok := os.Getenv(EnvToken); tok != "" && c.explicit[host] {
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

// authorize sets basic auth on a request to an HTTP(S) URL.
func (c *credentials) authorize(req *http.Request) {
	if req.URL.User != nil { // never sent in the URL itself
		req.URL = c.addSource(req.URL, false)
	}
	if up, ok := c.lookup(req.URL); ok {
		req.SetBasicAuth(up.user, up.pass)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
