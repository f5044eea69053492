package npm

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Integrity is a Subresource Integrity value as npm writes it in a lock
// ("sha512-<base64>", possibly several hashes separated by spaces),
// reduced to its strongest algorithm: sha512, then sha384, sha256, sha1
// (ssri's order). A tarball matches when it hashes to any digest of that
// algorithm.
type Integrity struct {
	Algorithm string
	Digests   [][]byte
}

// algorithms npm's ssri knows, strongest first.
var algorithms = []string{"sha512", "sha384", "sha256", "sha1"}

func algoSize(a string) int {
	switch a {
	case "sha512":
		return sha512.Size
	case "sha384":
		return sha512.Size384
	case "sha256":
		return sha256.Size
	case "sha1":
		return sha1.Size
	}
	return 0
}

// ParseIntegrity reads an SRI string. Hashes of unknown algorithms are
// ignored, as ssri does; a value with no hash pipbake can check is an
// error, as is a digest of the wrong length.
func ParseIntegrity(s string) (Integrity, error) {
	if len(s) > 8192 {
		return Integrity{}, fmt.Errorf("integrity is %d bytes long", len(s))
	}
	best := -1
	byAlgo := map[string][][]byte{}
	for _, field := range strings.Fields(s) {
		algo, rest, ok := strings.Cut(field, "-")
		if !ok {
			continue
		}
		rank := -1
		for i, a := range algorithms {
			if a == algo {
				rank = i
			}
		}
		if rank < 0 {
			continue
		}
		digest, _, _ := strings.Cut(rest, "?") // options are ignored
		raw, err := base64.StdEncoding.DecodeString(digest)
		if err != nil {
			return Integrity{}, fmt.Errorf("integrity %s: %s digest is not base64", quote(s), algo)
		}
		if len(raw) != algoSize(algo) {
			return Integrity{}, fmt.Errorf("integrity %s: %s digest has %d bytes, not %d", quote(s), algo, len(raw), algoSize(algo))
		}
		byAlgo[algo] = append(byAlgo[algo], raw)
		if best < 0 || rank < best {
			best = rank
		}
	}
	if best < 0 {
		return Integrity{}, fmt.Errorf("integrity %s has no sha512, sha384, sha256 or sha1 hash", quote(s))
	}
	a := algorithms[best]
	return Integrity{Algorithm: a, Digests: byAlgo[a]}, nil
}

// IsZero reports whether the integrity is unset.
func (i Integrity) IsZero() bool { return i.Algorithm == "" }

// String renders the integrity in SRI form (the strongest algorithm only).
func (i Integrity) String() string {
	var parts []string
	for _, d := range i.Digests {
		parts = append(parts, i.Algorithm+"-"+base64.StdEncoding.EncodeToString(d))
	}
	return strings.Join(parts, " ")
}

// Hex is the first digest in hex, the key of content-addressed stores.
func (i Integrity) Hex() string {
	if len(i.Digests) == 0 {
		return ""
	}
	return hex.EncodeToString(i.Digests[0])
}

// New returns a hash of the integrity's algorithm.
func (i Integrity) New() hash.Hash { return newHash(i.Algorithm) }

func newHash(algo string) hash.Hash {
	switch algo {
	case "sha512":
		return sha512.New()
	case "sha384":
		return sha512.New384()
	case "sha256":
		return sha256.New()
	case "sha1":
		return sha1.New()
	}
	panic("npm: unknown hash algorithm " + algo)
}

// Matches reports whether sum (from New) is one of the digests.
func (i Integrity) Matches(sum []byte) bool {
	for _, d := range i.Digests {
		if bytes.Equal(d, sum) {
			return true
		}
	}
	return false
}

// Check hashes data and reports whether it matches.
func (i Integrity) Check(data []byte) bool {
	h := i.New()
	h.Write(data)
	return i.Matches(h.Sum(nil))
}

// SRI returns the sha512 SRI string of data (what npm records).
func SRI(data []byte) string {
	sum := sha512.Sum512(data)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}
