package attest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// In-toto and predicate type URIs.
const (
	StatementType = "https://in-toto.io/Statement/v1"
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// PredicateSBOM is CycloneDX's predicate type (cosign's `--type
	// cyclonedx`).
	PredicateSBOM = "https://cyclonedx.org/bom"
	// PredicateSLSA is SLSA provenance v1 (cosign's `--type
	// slsaprovenance1`).
	PredicateSLSA = "https://slsa.dev/provenance/v1"
)

// MaxStatementBytes bounds a statement (or an envelope) read from outside.
const MaxStatementBytes = 64 << 20

// Subject is one artifact a statement is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// SHA256Subject is a subject named name with sha256 hex digest.
func SHA256Subject(name, hexDigest string) Subject {
	return Subject{Name: name, Digest: map[string]string{"sha256": hexDigest}}
}

// Statement is an in-toto v1 Statement.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// NewStatement makes a statement about subjects with predicate (JSON).
func NewStatement(predicateType string, predicate []byte, subjects ...Subject) (*Statement, error) {
	if len(subjects) == 0 {
		return nil, errors.New("attest: a statement needs a subject")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, predicate); err != nil {
		return nil, fmt.Errorf("attest: the %s predicate is not JSON: %w", predicateType, err)
	}
	return &Statement{Type: StatementType, Subject: subjects, PredicateType: predicateType, Predicate: buf.Bytes()}, nil
}

// Bytes is the statement's canonical encoding: compact JSON, fields in
// struct order, digest maps sorted by algorithm, ending in a newline. The
// same statement always gives the same bytes.
func (s *Statement) Bytes() []byte {
	data, err := json.Marshal(s)
	if err != nil { // only RawMessage could fail, and NewStatement compacted it
		panic(err)
	}
	return append(data, '\n')
}

// ParseStatement decodes and checks a statement read from outside: the
// in-toto v1 type, at least one subject, each with a well-formed sha256,
// a predicate type and a JSON object predicate.
func ParseStatement(data []byte) (*Statement, error) {
	if len(data) > MaxStatementBytes {
		return nil, fmt.Errorf("statement of %d bytes is larger than %d", len(data), MaxStatementBytes)
	}
	var s Statement
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("statement is not JSON: %w", err)
	}
	if s.Type != StatementType {
		return nil, fmt.Errorf("statement _type is %q, want %q", clip(s.Type), StatementType)
	}
	if len(s.Subject) == 0 {
		return nil, errors.New("statement has no subject")
	}
	for i, sub := range s.Subject {
		d, ok := sub.Digest["sha256"]
		if !ok || !IsSHA256(d) {
			return nil, fmt.Errorf("statement subject %d (%q) has no sha256 digest of 64 hex digits", i, clip(sub.Name))
		}
	}
	if s.PredicateType == "" {
		return nil, errors.New("statement has no predicateType")
	}
	if t := bytes.TrimSpace(s.Predicate); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("statement predicate is not a JSON object")
	}
	return &s, nil
}

// SubjectDigests are the statement's subjects' sha256 digests by name.
func (s *Statement) SubjectDigests() map[string]string {
	out := make(map[string]string, len(s.Subject))
	for _, sub := range s.Subject {
		out[sub.Name] = sub.Digest["sha256"]
	}
	return out
}

// HasSubject reports whether one of the subjects has sha256 hex digest d.
func (s *Statement) HasSubject(d string) bool {
	for _, sub := range s.Subject {
		if sub.Digest["sha256"] == d {
			return true
		}
	}
	return false
}

// IsSHA256 reports whether s is 64 lower-case hex digits.
func IsSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && s == toLower(s)
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// Manifest is a sha256sum-style listing ("<sha256>  <name>\n" per file,
// sorted by name) of named files, and ManifestDigest its sha256: the one
// digest of several statements an AMI tag carries.
func Manifest(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", SHA256Hex(files[n]), n)
	}
	return b.Bytes()
}

// ManifestDigest is the sha256 of Manifest(files).
func ManifestDigest(files map[string][]byte) string { return SHA256Hex(Manifest(files)) }
