package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// FuzzParsePrivateKey: hostile key files never panic, never take long
// (scrypt parameters are bounded), never echo the password, and a key
// that parses is an ECDSA P-256 key that signs what its public key
// verifies.
func FuzzParsePrivateKey(f *testing.F) {
	k, enc := encryptedKey()
	pk8, _ := x509.MarshalPKCS8PrivateKey(k)
	sec1, _ := x509.MarshalECPrivateKey(k)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}), []byte(""))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), []byte(""))
	f.Add(enc, encryptedKeyPassword)
	f.Add(enc, []byte("pw-wrong-0123"))
	f.Add([]byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), []byte("pw-0123456789"))
	f.Add([]byte("not a key"), []byte(""))
	f.Fuzz(func(t *testing.T, data, password []byte) {
		key, err := ParsePrivateKey("fuzz.key", data, password)
		if err != nil {
			if len(password) >= 8 && strings.Contains(err.Error(), string(password)) {
				t.Fatalf("the error shows the password: %v", err)
			}
			return
		}
		st, _ := NewStatement(PredicateSBOM, []byte(`{}`), SHA256Subject("s", strings.Repeat("0", 64)))
		env, err := Wrap(st, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.Verify(&key.PublicKey); err != nil {
			t.Fatalf("a parsed key does not verify its own signature: %v", err)
		}
	})
}

// FuzzParseEnvelope: hostile envelopes and statements never panic; what
// parses re-encodes to an envelope that parses to the same payload, and a
// statement that parses re-encodes to one that parses with the same
// subjects; an unsigned or foreign envelope never verifies.
func FuzzParseEnvelope(f *testing.F) {
	k := newKey(f)
	st, _ := NewStatement(PredicateSBOM, []byte(`{"bomFormat":"CycloneDX"}`), SHA256Subject("s", strings.Repeat("a", 64)))
	signed, _ := Wrap(st, k)
	unsigned, _ := Wrap(st, nil)
	f.Add(signed.Bytes())
	f.Add(unsigned.Bytes())
	f.Add([]byte(`{"payloadType":"x","payload":"e30=","signatures":[{"keyid":"","sig":"AAAA"}]}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"-_-_","signatures":null}`))
	other := newKey(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		env, payload, err := ParseEnvelope(data)
		if err != nil {
			return
		}
		_, p2, err := ParseEnvelope(env.Bytes())
		if err != nil || !bytes.Equal(payload, p2) {
			t.Fatalf("re-encoded envelope: %v", err)
		}
		if _, err := env.Verify(&other.PublicKey); err == nil {
			t.Fatal("an envelope verifies with a key that never signed anything")
		}
		s, err := ParseStatement(payload)
		if err != nil {
			return
		}
		s2, err := ParseStatement(s.Bytes())
		if err != nil {
			t.Fatalf("re-encoded statement does not parse: %v", err)
		}
		if len(s2.Subject) != len(s.Subject) || s2.PredicateType != s.PredicateType {
			t.Fatal("re-encoded statement differs")
		}
		for _, sub := range s.Subject {
			if !s2.HasSubject(sub.Digest["sha256"]) {
				t.Fatal("re-encoded statement lost a subject")
			}
		}
	})
}

// FuzzParseProvenance: hostile provenance never panics; the sets it gives
// are exactly those its external parameters name, and each digest it
// reports is one its byproducts carry for that set.
func FuzzParseProvenance(f *testing.F) {
	p, err := NewProvenance([]Set{testSet(f, "api"), testSet(f, "web")}, Context{})
	if err != nil {
		f.Fatal(err)
	}
	st, _ := p.Statement(SHA256Subject("x", strings.Repeat("a", 64)))
	f.Add([]byte(st.Predicate))
	f.Add([]byte(`{"buildDefinition":{"buildType":"` + BuildType + `","externalParameters":{"sets":[{"name":"a"}]}},"runDetails":{"byproducts":[{"name":"layer:a","digest":{"sha256":"x"}},{"name":"receipt:b"},{"name":":"}]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProvenance(data)
		if err != nil {
			return
		}
		named := map[string]bool{}
		for _, s := range p.BuildDefinition.ExternalParameters.Sets {
			named[s.Name] = true
		}
		carried := map[string]bool{}
		for _, b := range p.RunDetails.Byproducts {
			for _, d := range b.Digest {
				carried[d] = true
				carried["sha256:"+d] = true
			}
		}
		for _, s := range p.Sets() {
			if !named[s.Name] {
				t.Fatalf("set %q is not in the external parameters", s.Name)
			}
			for _, d := range []string{s.Receipt, s.SBOM, s.Layer} {
				if d != "" && !carried[d] {
					t.Fatalf("digest %q of set %q is carried by no byproduct", d, s.Name)
				}
			}
		}
	})
}

// FuzzReadReleaseProvenance: a provenance statement read from a receipts
// folder or an image never panics; what it gives back is well formed (a
// plan and templates named, with sha256 digests) and, with the receipt
// it is about, remakes a statement that reads back the same.
func FuzzReadReleaseProvenance(f *testing.F) {
	api := testSet(f, "api")
	api.Plan = &File{Name: "plan.json", SHA256: strings.Repeat("4", 64)}
	sts, err := ReleaseStatements([]Set{api}, []File{{Name: "app.pkr.hcl", SHA256: strings.Repeat("3", 64)}})
	if err != nil {
		f.Fatal(err)
	}
	good := sts[ProvenanceFile("api")].Bytes()
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"plan":{`), []byte(`"plan":{"x":1,`), 1))
	f.Add(bytes.Replace(good, []byte(`"name":"api"`), []byte(`"name":"web"`), -1))
	f.Add(sts[SBOMFile("api")].Bytes())
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		plan, templates, err := ReadReleaseProvenance(data, "api", api.Receipt)
		if err != nil {
			return
		}
		if plan != nil && (plan.Name == "" || !IsSHA256(plan.SHA256)) {
			t.Fatalf("plan %+v is not well formed", plan)
		}
		for _, f := range templates {
			if f.Name == "" || !IsSHA256(f.SHA256) {
				t.Fatalf("template %+v is not well formed", f)
			}
		}
		set := api
		set.Plan = plan
		again, err := ReleaseStatements([]Set{set}, templates)
		if err != nil {
			t.Fatal(err)
		}
		p2, t2, err := ReadReleaseProvenance(again[ProvenanceFile("api")].Bytes(), "api", api.Receipt)
		if err != nil || (p2 == nil) != (plan == nil) || (plan != nil && *p2 != *plan) || len(t2) != len(templates) {
			t.Fatalf("remade statement reads back %v %v (%v), want %v %v", p2, t2, err, plan, templates)
		}
	})
}
