package attest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// PEM block types of signing keys read here.
const (
	pemPKCS8           = "PRIVATE KEY"
	pemEC              = "EC PRIVATE KEY"
	pemPublic          = "PUBLIC KEY"
	pemSigstoreKey     = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemCosignKey       = "ENCRYPTED COSIGN PRIVATE KEY"
	pemEncryptedPKCS8  = "ENCRYPTED PRIVATE KEY"
	maxKeyFileBytes    = 1 << 20
	scryptKeyLen       = 32
	secretboxNonceSize = 24
)

// PasswordEnv holds the password of an encrypted (cosign) signing key, as
// cosign reads it.
const PasswordEnv = "COSIGN_PASSWORD"

// ErrNeedPassword is returned for an encrypted key read without password.
var ErrNeedPassword = errors.New("the key is encrypted: set " + PasswordEnv + " to its password")

// LoadPrivateKey reads the signing key at path (see ParsePrivateKey); the
// password is for cosign's encrypted keys, nil otherwise.
func LoadPrivateKey(path string, password []byte) (*ecdsa.PrivateKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePrivateKey(path, data, password)
}

// LoadPublicKey reads the verifying key at path (see ParsePublicKey).
func LoadPublicKey(path string) (*ecdsa.PublicKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(path, data)
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("key %s is larger than %d bytes: not a key", path, maxKeyFileBytes)
	}
	return data, nil
}

// ParsePrivateKey decodes an ECDSA P-256 signing key: a PEM "PRIVATE KEY"
// (PKCS #8) or "EC PRIVATE KEY" (SEC 1), or cosign's key format, a PEM
// "ENCRYPTED SIGSTORE PRIVATE KEY" (or "ENCRYPTED COSIGN PRIVATE KEY")
// holding a PKCS #8 key sealed with NaCl secretbox under a key derived
// from password with scrypt. name names the key in errors; neither the
// key nor the password ever does.
func ParsePrivateKey(name string, data, password []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("key %s: no PEM block (want an ECDSA P-256 private key in PEM or cosign's format)", name)
	}
	var der []byte
	switch block.Type {
	case pemPKCS8:
		der = block.Bytes
	case pemEC:
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("key %s: not an EC private key: %w", name, scrub(err))
		}
		return checkP256Private(name, k)
	case pemSigstoreKey, pemCosignKey:
		if len(password) == 0 {
			return nil, fmt.Errorf("key %s: %w", name, ErrNeedPassword)
		}
		var err error
		if der, err = decryptCosign(block.Bytes, password); err != nil {
			return nil, fmt.Errorf("key %s: %w", name, err)
		}
	case pemEncryptedPKCS8:
		return nil, fmt.Errorf("key %s: an encrypted PKCS #8 key is not read; use cosign's format or an unencrypted key", name)
	case pemPublic:
		return nil, fmt.Errorf("key %s is a public key; signing needs the private key", name)
	default:
		return nil, fmt.Errorf("key %s: PEM block %q is not a private key this reads (PRIVATE KEY, EC PRIVATE KEY, %s)", name, clip(block.Type), pemSigstoreKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("key %s: not a PKCS #8 private key: %w", name, scrub(err))
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key %s is a %T; only ECDSA P-256 keys sign here", name, k)
	}
	return checkP256Private(name, ek)
}

func checkP256Private(name string, k *ecdsa.PrivateKey) (*ecdsa.PrivateKey, error) {
	if k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("key %s is on curve %s; only ECDSA P-256 keys sign here", name, k.Curve.Params().Name)
	}
	return k, nil
}

// scrub keeps an x509 parse error's text, which names the structure, not
// the bytes.
func scrub(err error) error { return errors.New(err.Error()) }

// ParsePublicKey decodes an ECDSA P-256 verifying key, a PEM "PUBLIC KEY"
// (PKIX) as `cosign generate-key-pair` writes cosign.pub.
func ParsePublicKey(name string, data []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("key %s: no PEM block (want an ECDSA P-256 public key, PEM \"PUBLIC KEY\")", name)
	}
	if block.Type != pemPublic {
		return nil, fmt.Errorf("key %s: PEM block %q is not a PUBLIC KEY", name, clip(block.Type))
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key %s: not a PKIX public key: %w", name, scrub(err))
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("key %s is not an ECDSA P-256 public key", name)
	}
	return ek, nil
}

// MarshalPublicKey renders pub as a PEM "PUBLIC KEY".
func MarshalPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der}), nil
}

// cosignKey is the JSON inside cosign's encrypted PEM block.
type cosignKey struct {
	KDF struct {
		Name   string `json:"name"`
		Params struct {
			N int `json:"N"`
			R int `json:"r"`
			P int `json:"p"`
		} `json:"params"`
		Salt []byte `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// The scrypt parameters cosign's keys use (legacy, standard, OWASP); any
// other is refused before deriving, so a hostile key file cannot ask for
// gigabytes of memory.
var scryptParams = map[[3]int]bool{{32768, 8, 1}: true, {65536, 8, 1}: true, {131072, 8, 1}: true}

func decryptCosign(data, password []byte) ([]byte, error) {
	var k cosignKey
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("cosign key is not valid: %w", err)
	}
	if k.KDF.Name != "scrypt" {
		return nil, fmt.Errorf("cosign key uses kdf %q, want scrypt", clip(k.KDF.Name))
	}
	if k.Cipher.Name != "nacl/secretbox" {
		return nil, fmt.Errorf("cosign key uses cipher %q, want nacl/secretbox", clip(k.Cipher.Name))
	}
	p := k.KDF.Params
	if !scryptParams[[3]int{p.N, p.R, p.P}] {
		return nil, fmt.Errorf("cosign key has scrypt parameters N=%d r=%d p=%d, which cosign does not write", p.N, p.R, p.P)
	}
	if len(k.KDF.Salt) == 0 || len(k.KDF.Salt) > 1024 {
		return nil, fmt.Errorf("cosign key has a salt of %d bytes", len(k.KDF.Salt))
	}
	if len(k.Cipher.Nonce) != secretboxNonceSize {
		return nil, fmt.Errorf("cosign key has a nonce of %d bytes, want %d", len(k.Cipher.Nonce), secretboxNonceSize)
	}
	if len(k.Ciphertext) < secretbox.Overhead {
		return nil, errors.New("cosign key has no ciphertext")
	}
	dk, err := scrypt.Key(password, k.KDF.Salt, p.N, p.R, p.P, scryptKeyLen)
	if err != nil {
		return nil, fmt.Errorf("derive the cosign key's secret: %w", err)
	}
	var key [scryptKeyLen]byte
	var nonce [secretboxNonceSize]byte
	copy(key[:], dk)
	copy(nonce[:], k.Cipher.Nonce)
	out, ok := secretbox.Open(nil, k.Ciphertext, &nonce, &key)
	clear(key[:])
	clear(dk)
	if !ok {
		return nil, errors.New("cannot decrypt the cosign key: wrong password, or the key is damaged")
	}
	return out, nil
}
