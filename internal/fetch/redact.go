package fetch

import (
	"regexp"
	"slices"
	"strings"
	"sync"
)

var (
	// userinfo matches the user[:password]@ part of a URL in any text.
	userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@\s"'<>]*)@`)
	// secretParam matches a query parameter whose value is a credential
	// (tokens, presigned URL signatures).
	secretParam = regexp.MustCompile(`(?i)([?&](?:[a-z0-9_.-]*token|[a-z0-9_.-]*secret|password|passwd|pass|sig|signature|key|api[_-]?key|x-amz-credential|x-amz-signature|x-amz-security-token|x-goog-signature|x-goog-credential|awsaccesskeyid)=)[^&#\s"'<>]*`)
)

// Redact removes credentials from text: the password of every URL's
// user:password@ (the user name too when it stands alone, as a token
// does) and the values of query parameters that carry tokens or
// signatures. It is the one function every log line, error and
// wheelhouse.json source goes through; Fetch also removes the passwords
// and tokens it was given wherever else they appear.
func Redact(text string) string {
	text = userinfo.ReplaceAllStringFunc(text, func(m string) string {
		sub := userinfo.FindStringSubmatch(m)
		user, _, hasPass := strings.Cut(sub[2], ":")
		if !hasPass || user == "" {
			return sub[1] + "***@"
		}
		return sub[1] + user + ":***@"
	})
	return secretParam.ReplaceAllString(text, "${1}***")
}

// redactor is Redact plus the secrets this fetch knows of (passwords and
// tokens from URLs, netrc and the environment), which it removes wherever
// they appear.
type redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// add records secrets to remove. Very short values are left alone: they
// would mangle ordinary words and are no secret worth the name.
func (r *redactor) add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= 4 && !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
	// Longest first, so a secret containing another is removed whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
}

func (r *redactor) redact(text string) string {
	if r == nil {
		return Redact(text)
	}
	text = Redact(text)
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.secrets {
		text = strings.ReplaceAll(text, s, "***")
	}
	return text
}
