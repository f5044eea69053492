package fetch

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// npmAuth holds the registry credentials of .npmrc files, as npm reads
// them: keys "//host[:port]/path/:_authToken" (a bearer token),
// ":_auth" (base64 of user:password) and ":username" with ":_password"
// (the password base64-encoded), ${VAR} in values taken from the
// environment. A request gets the credentials of the longest
// "//host[:port]/path/" prefix of its URL (npm's nerf dart: any scheme),
// and none when no key matches.
type npmAuth struct {
	entries map[string]*npmCred // by nerf dart, "//host:port/path/"
	// Registry is the "registry" setting, if any.
	Registry string
}

type npmCred struct {
	token, basic string // basic is base64(user:password)
}

var npmrcVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// readNPMRC reads .npmrc files in order (later ones override earlier
// ones), giving every secret to red. A missing file is no error.
func readNPMRC(red *redactor, files ...string) (*npmAuth, error) {
	a := &npmAuth{entries: map[string]*npmCred{}}
	users := map[string]string{}
	passwords := map[string]string{}
	for _, p := range files {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			v = strings.Trim(v, `"'`)
			v = npmrcVar.ReplaceAllStringFunc(v, func(m string) string { return os.Getenv(m[2 : len(m)-1]) })
			if k == "registry" {
				a.Registry = v
				continue
			}
			if !strings.HasPrefix(k, "//") {
				continue
			}
			i := strings.LastIndex(k, ":")
			if i < 0 {
				continue
			}
			dart, field := nerfDart(k[:i]), k[i+1:]
			c := a.entries[dart]
			if c == nil {
				c = &npmCred{}
				a.entries[dart] = c
			}
			switch field {
			case "_authToken":
				red.add(v)
				c.token = v
			case "_auth":
				red.add(v)
				if dec, err := base64.StdEncoding.DecodeString(v); err == nil {
					_, pw, _ := strings.Cut(string(dec), ":")
					red.add(pw)
				}
				c.basic = v
			case "username":
				users[dart] = v
			case "_password":
				red.add(v)
				pw, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					f.Close()
					return nil, fmt.Errorf("%s: %s:_password is not base64 (npm keeps it encoded)", p, k[:i])
				}
				red.add(string(pw))
				passwords[dart] = string(pw)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
	}
	for dart, u := range users {
		if pw, ok := passwords[dart]; ok && a.entries[dart].basic == "" {
			a.entries[dart].basic = base64.StdEncoding.EncodeToString([]byte(u + ":" + pw))
		}
	}
	return a, nil
}

// nerfDart normalises "//host:port/path" to "//host:port/path/"
// (lowercase host, trailing slash).
func nerfDart(k string) string {
	rest := strings.TrimPrefix(k, "//")
	host, p, _ := strings.Cut(rest, "/")
	p = strings.TrimSuffix(p, "/")
	if p != "" {
		p += "/"
	}
	return "//" + strings.ToLower(host) + "/" + p
}

// header returns the Authorization header for a URL, if a key matches:
// the nerf darts of the URL's folder and each folder above it.
func (a *npmAuth) header(u *url.URL) (string, bool) {
	if a == nil || len(a.entries) == 0 {
		return "", false
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		host = strings.ToLower(u.Hostname())
	}
	dir := u.EscapedPath()
	if i := strings.LastIndex(dir, "/"); i >= 0 {
		dir = dir[:i]
	}
	for {
		dart := "//" + host + strings.TrimSuffix(dir, "/") + "/"
		if c := a.entries[dart]; c != nil {
			switch {
			case c.token != "":
				return "Bearer " + c.token, true
			case c.basic != "":
				return "Basic " + c.basic, true
			}
		}
		if dir == "" || dir == "/" {
			return "", false
		}
		dir = dir[:strings.LastIndex(dir, "/")]
	}
}

// npmrcFiles are the .npmrc files npm would read for a project: the
// user's ($NPM_CONFIG_USERCONFIG, else ~/.npmrc), then the project's
// (beside the lock), which overrides it.
func npmrcFiles(lockPaths []string) []string {
	var out []string
	if p := os.Getenv("NPM_CONFIG_USERCONFIG"); p != "" {
		out = append(out, p)
	} else if p := os.Getenv("npm_config_userconfig"); p != "" {
		out = append(out, p)
	} else if home, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(home, ".npmrc"))
	}
	seen := map[string]bool{}
	for _, l := range lockPaths {
		p := filepath.Join(filepath.Dir(l), ".npmrc")
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
