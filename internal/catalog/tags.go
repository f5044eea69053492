package catalog

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Tag keys of the schema.
const (
	TagFamily        = "pipbake:family"
	TagRelease       = "pipbake:release"
	TagSets          = "pipbake:sets"
	TagReceiptSHA256 = "pipbake:receipt-sha256"
	TagLockSHA256    = "pipbake:lock-sha256"
	// TagBase is optional: what the image was built on, e.g. the source
	// AMI's name and id (amazon-ebs "{{ .SourceAMIName }} {{ .SourceAMI }}").
	TagBase = "pipbake:base"
)

// AWS's tag limits.
const (
	MaxTagKey    = 128
	MaxTagValue  = 256
	MaxResources = 50 // tags on one resource
)

// Keys lists the schema's keys in order.
var Keys = []string{TagFamily, TagRelease, TagSets, TagReceiptSHA256, TagLockSHA256, TagBase}

// Release is what the tags of one baked image say.
type Release struct {
	Family        string `json:"family"`
	Release       string `json:"release"`
	Sets          string `json:"sets,omitempty"`
	ReceiptSHA256 string `json:"receipt_sha256,omitempty"`
	LockSHA256    string `json:"lock_sha256,omitempty"`
	Base          string `json:"base,omitempty"`
}

// String is "family@release".
func (r Release) String() string { return r.Family + "@" + r.Release }

// Tags returns the schema's tags for r, leaving out empty values.
func (r Release) Tags() map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{
		TagFamily: r.Family, TagRelease: r.Release, TagSets: r.Sets,
		TagReceiptSHA256: r.ReceiptSHA256, TagLockSHA256: r.LockSHA256, TagBase: r.Base,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// Validate checks that r names a family and a release and that every value
// fits AWS's limits.
func (r Release) Validate() error {
	if err := ValidFamily(r.Family); err != nil {
		return err
	}
	if r.Release == "" {
		return fmt.Errorf("release: the release id is empty")
	}
	for k, v := range r.Tags() {
		if n := utf8.RuneCountInString(v); n > MaxTagValue {
			return fmt.Errorf("tag %s: value of %d characters, more than AWS's %d", k, n, MaxTagValue)
		}
	}
	return nil
}

// ValidFamily checks a family name: 1 to 128 letters, digits, '.', '_' or
// '-', not starting with '.' or '-'.
func ValidFamily(f string) error {
	if f == "" || len(f) > 128 {
		return fmt.Errorf("family %q: must be 1 to 128 characters", f)
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("family %q: only letters, digits, '.', '_' and '-' are allowed", f)
		}
	}
	if f[0] == '.' || f[0] == '-' {
		return fmt.Errorf("family %q: must not start with '.' or '-'", f)
	}
	return nil
}

// FromTags reads a release from an image's tags (or an OCI image's
// annotations or labels). ok is false unless both pipbake:family and
// pipbake:release are there.
func FromTags(tags map[string]string) (r Release, ok bool) {
	r = Release{
		Family: tags[TagFamily], Release: tags[TagRelease], Sets: tags[TagSets],
		ReceiptSHA256: tags[TagReceiptSHA256], LockSHA256: tags[TagLockSHA256], Base: tags[TagBase],
	}
	return r, r.Family != "" && r.Release != ""
}

// Merge returns existing with r's tags set over it, and checks the
// result against AWS's limit on the number of tags of a resource.
func (r Release) Merge(existing map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(existing)+len(Keys))
	for k, v := range existing {
		out[k] = v
	}
	for k, v := range r.Tags() {
		out[k] = v
	}
	if len(out) > MaxResources {
		return nil, fmt.Errorf("%d tags: AWS allows %d on a resource (%d there already, %d from pipbake)", len(out), MaxResources, len(existing), len(r.Tags()))
	}
	return out, nil
}

// SetVersion is one entry of pipbake:sets.
type SetVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// FormatSets renders sets as "a@1,b@2", sorted by name, cut at a set to fit
// a tag value and then ending with ",+N".
func FormatSets(sets []SetVersion) string {
	s := append([]SetVersion(nil), sets...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	parts := make([]string, len(s))
	for i, sv := range s {
		parts[i] = sv.Name + "@" + sv.Version
	}
	full := strings.Join(parts, ",")
	if utf8.RuneCountInString(full) <= MaxTagValue {
		return full
	}
	for n := len(parts) - 1; n >= 0; n-- {
		v := strings.Join(parts[:n], ",")
		suffix := fmt.Sprintf("+%d", len(parts)-n)
		if n > 0 {
			suffix = "," + suffix
		}
		if utf8.RuneCountInString(v+suffix) <= MaxTagValue {
			return v + suffix
		}
	}
	return fmt.Sprintf("+%d", len(parts))
}

// ParseSets reads pipbake:sets; a trailing ",+N" is dropped.
func ParseSets(v string) []SetVersion {
	var out []SetVersion
	for _, p := range strings.Split(v, ",") {
		name, ver, ok := strings.Cut(strings.TrimSpace(p), "@")
		if !ok || name == "" {
			continue
		}
		out = append(out, SetVersion{Name: name, Version: ver})
	}
	return out
}
