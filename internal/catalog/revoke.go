package catalog

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Keys of a revocation: a release marked bad keeps its other tags and gains
// these (AMIs: tags; registry images: the annotations of a record that
// refers to the image).
const (
	TagRevoked   = "pipbake:revoked"    // the reason
	TagRevokedAt = "pipbake:revoked-at" // when, RFC 3339 UTC
)

// Revocation says that a release is bad, why and since when.
type Revocation struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// NewRevocation checks a reason (1 to 256 characters once trimmed, no
// control characters) and dates it at (to the second, UTC).
func NewRevocation(reason string, at time.Time) (Revocation, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Revocation{}, fmt.Errorf("revoke: the reason is empty; say why the release is bad")
	}
	if n := utf8.RuneCountInString(reason); n > MaxTagValue {
		return Revocation{}, fmt.Errorf("revoke: the reason has %d characters, more than a tag value's %d", n, MaxTagValue)
	}
	for _, c := range reason {
		if unicode.IsControl(c) || c == utf8.RuneError {
			return Revocation{}, fmt.Errorf("revoke: the reason %q has a control character or is not UTF-8", reason)
		}
	}
	return Revocation{Reason: reason, At: at.UTC().Truncate(time.Second)}, nil
}

// Tags returns the revocation's tags.
func (r Revocation) Tags() map[string]string {
	return map[string]string{TagRevoked: r.Reason, TagRevokedAt: r.At.Format(time.RFC3339)}
}

// RevocationFromTags reads a revocation from tags; nil when the release is
// not revoked. A missing or unreadable time leaves At zero.
func RevocationFromTags(tags map[string]string) *Revocation {
	reason, ok := tags[TagRevoked]
	if !ok {
		return nil
	}
	r := &Revocation{Reason: reason}
	if t, err := time.Parse(time.RFC3339, tags[TagRevokedAt]); err == nil {
		r.At = t.UTC()
	}
	return r
}

// String is "revoked 2026-11-26T10:00:00Z: reason".
func (r *Revocation) String() string {
	if r == nil {
		return ""
	}
	if r.At.IsZero() {
		return "revoked: " + r.Reason
	}
	return fmt.Sprintf("revoked %s: %s", r.At.Format(time.RFC3339), r.Reason)
}
