package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Envelope is a DSSE envelope (its JSON form).
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"` // base64 (standard, padded)
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"` // base64 of an ASN.1 DER ECDSA signature
}

// PAE is DSSE's pre-authentication encoding of a payload: what is signed.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// Wrap puts a statement in an envelope, signed with key when it is not
// nil and unsigned (no signatures) otherwise.
func Wrap(st *Statement, key *ecdsa.PrivateKey) (*Envelope, error) {
	return WrapPayload(PayloadType, st.Bytes(), key)
}

// WrapPayload is Wrap for any payload.
func WrapPayload(payloadType string, payload []byte, key *ecdsa.PrivateKey) (*Envelope, error) {
	env := &Envelope{PayloadType: payloadType, Payload: base64.StdEncoding.EncodeToString(payload), Signatures: []Signature{}}
	if key == nil {
		return env, nil
	}
	var signer crypto.Signer = key
	h := sha256.Sum256(PAE(payloadType, payload))
	sig, err := signer.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign the %s payload: %w", payloadType, err)
	}
	// The key id is left empty, as cosign writes it: verifiers that
	// compute their own ids from the key then accept the signature.
	env.Signatures = append(env.Signatures, Signature{Sig: base64.StdEncoding.EncodeToString(sig)})
	return env, nil
}

// Bytes is the envelope's JSON, ending in a newline.
func (e *Envelope) Bytes() []byte {
	data, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	return append(data, '\n')
}

// ParseEnvelope decodes an envelope read from outside and its payload.
func ParseEnvelope(data []byte) (*Envelope, []byte, error) {
	if len(data) > MaxStatementBytes {
		return nil, nil, fmt.Errorf("envelope of %d bytes is larger than %d", len(data), MaxStatementBytes)
	}
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, nil, fmt.Errorf("envelope is not JSON: %w", err)
	}
	if e.PayloadType == "" {
		return nil, nil, errors.New("envelope has no payloadType")
	}
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		// DSSE allows URL-safe base64 too.
		if payload, err = base64.URLEncoding.DecodeString(e.Payload); err != nil {
			return nil, nil, fmt.Errorf("envelope payload is not base64: %w", err)
		}
	}
	return &e, payload, nil
}

// ErrUnsigned is returned by Verify for an envelope without signatures.
var ErrUnsigned = errors.New("the envelope is not signed")

// ErrBadSignature is returned by Verify when no signature verifies.
var ErrBadSignature = errors.New("no signature of the envelope verifies with the key")

// Verify checks that at least one signature of e verifies with pub and
// returns the payload.
func (e *Envelope) Verify(pub *ecdsa.PublicKey) ([]byte, error) {
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		if payload, err = base64.URLEncoding.DecodeString(e.Payload); err != nil {
			return nil, fmt.Errorf("envelope payload is not base64: %w", err)
		}
	}
	if len(e.Signatures) == 0 {
		return nil, ErrUnsigned
	}
	h := sha256.Sum256(PAE(e.PayloadType, payload))
	for _, s := range e.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			continue
		}
		if ecdsa.VerifyASN1(pub, h[:], sig) {
			return payload, nil
		}
	}
	return nil, ErrBadSignature
}

// SHA256Hex is the hex sha256 of data.
func SHA256Hex(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}
