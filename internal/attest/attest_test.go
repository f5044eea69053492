package attest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// encryptCosign writes priv in cosign's key format (the test's own
// writer of the format ParsePrivateKey reads).
func encryptCosign(priv *ecdsa.PrivateKey, password []byte, n int) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(err)
	}
	salt := make([]byte, 32)
	rand.Read(salt)
	var nonce [24]byte
	rand.Read(nonce[:])
	dk, err := scrypt.Key(password, salt, n, 8, 1, 32)
	if err != nil {
		panic(err)
	}
	var key [32]byte
	copy(key[:], dk)
	var k cosignKey
	k.KDF.Name, k.KDF.Params.N, k.KDF.Params.R, k.KDF.Params.P, k.KDF.Salt = "scrypt", n, 8, 1, salt
	k.Cipher.Name, k.Cipher.Nonce = "nacl/secretbox", nonce[:]
	k.Ciphertext = secretbox.Seal(nil, der, &nonce, &key)
	data, _ := json.Marshal(k)
	return pem.EncodeToMemory(&pem.Block{Type: pemSigstoreKey, Bytes: data})
}

// encryptedKey is one key in cosign's format, made once per test binary
// for the tests that need one: each scrypt derivation (N=32768, 32 MB)
// costs up to a second of CPU under make check's -race.
var encryptedKey = sync.OnceValues(func() (*ecdsa.PrivateKey, []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k, encryptCosign(k, encryptedKeyPassword, 32768)
})

var encryptedKeyPassword = []byte("correct horse battery staple")

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParsePrivateKeyFormats(t *testing.T) {
	k, enc := encryptedKey()
	pk8, _ := x509.MarshalPKCS8PrivateKey(k)
	sec1, _ := x509.MarshalECPrivateKey(k)
	pass := encryptedKeyPassword
	for name, data := range map[string][]byte{
		"pkcs8":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}),
		"sec1":   pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"cosign": enc,
	} {
		got, err := ParsePrivateKey(name, data, pass)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !got.Equal(k) {
			t.Errorf("%s: a different key", name)
		}
	}
}

func TestParsePrivateKeyRefusals(t *testing.T) {
	k, enc := encryptedKey()
	pass := encryptedKeyPassword
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pk384, _ := x509.MarshalPKCS8PrivateKey(p384)
	pub, _ := MarshalPublicKey(&k.PublicKey)
	// scrypt parameters cosign never writes (a hostile key asking for
	// 64 GiB) are refused before deriving: deriving would take the
	// process down (out of memory), so no clock is needed to show it.
	var ck cosignKey
	blk, _ := pem.Decode(enc)
	json.Unmarshal(blk.Bytes, &ck)
	ck.KDF.Params.N = 1 << 26
	huge, _ := json.Marshal(ck)
	hugePEM := pem.EncodeToMemory(&pem.Block{Type: pemSigstoreKey, Bytes: huge})
	cases := []struct {
		name string
		data []byte
		pass []byte
		want string
	}{
		{"wrong password", enc, []byte("not-the-pass-word"), "wrong password"},
		{"no password", enc, nil, PasswordEnv},
		{"p384", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk384}), nil, "P-384"},
		{"public", pub, nil, "public key"},
		{"not pem", []byte("hello"), nil, "no PEM block"},
		{"huge scrypt", hugePEM, pass, "N=67108864"},
	}
	for _, c := range cases {
		_, err := ParsePrivateKey("key.pem", c.data, c.pass)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "key.pem") {
			t.Errorf("%s: %v, want an error naming key.pem and %q", c.name, err, c.want)
			continue
		}
		if c.pass != nil && strings.Contains(err.Error(), string(c.pass)) {
			t.Errorf("%s: the error shows the password: %v", c.name, err)
		}
	}
	if _, err := ParsePrivateKey("k", enc, nil); !errors.Is(err, ErrNeedPassword) {
		t.Errorf("no password: %v", err)
	}
}

func TestPAE(t *testing.T) {
	// The example of the DSSE specification.
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; got != want {
		t.Errorf("PAE = %q, want %q", got, want)
	}
}

func TestEnvelopeSignVerify(t *testing.T) {
	k := newKey(t)
	st, err := NewStatement(PredicateSBOM, []byte(`{"bomFormat": "CycloneDX"}`), SHA256Subject("x", strings.Repeat("ab", 32)))
	if err != nil {
		t.Fatal(err)
	}
	env, err := Wrap(st, k)
	if err != nil {
		t.Fatal(err)
	}
	e2, payload, err := ParseEnvelope(env.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(payload, st.Bytes()) {
		t.Fatal("payload differs from the statement")
	}
	if got, err := e2.Verify(&k.PublicKey); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("verify: %v", err)
	}
	if _, err := e2.Verify(&newKey(t).PublicKey); !errors.Is(err, ErrBadSignature) {
		t.Errorf("another key: %v", err)
	}
	// A payload changed by one byte no longer verifies.
	bad := *e2
	p := []byte(st.Bytes())
	p[len(p)-3] ^= 1
	bad.Payload = base64.StdEncoding.EncodeToString(p)
	if _, err := bad.Verify(&k.PublicKey); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered payload: %v", err)
	}
	// So does another payload type.
	bad = *e2
	bad.PayloadType = "application/json"
	if _, err := bad.Verify(&k.PublicKey); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other payload type: %v", err)
	}
	unsigned, _ := Wrap(st, nil)
	if _, err := unsigned.Verify(&k.PublicKey); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned: %v", err)
	}
	if !strings.Contains(string(unsigned.Bytes()), `"signatures":[]`) {
		t.Errorf("unsigned envelope: %s", unsigned.Bytes())
	}
}

// testSet is a set's receipt and SBOM as an install writes them.
func testSet(t testing.TB, name string) Set {
	t.Helper()
	rc := &receipt.Receipt{Schema: 2, Set: name, Release: "r1", Created: time.Unix(1700000000, 0).UTC(), Pipbake: "0.1.0",
		Installer: "native", Compiled: true, Lock: receipt.Lock{Path: "/tmp/pipbake/locks/0-" + name + "/req.txt", SHA256: strings.Repeat("1", 64), Format: "requirements"},
		Interpreter:   receipt.Interpreter{Path: "/usr/bin/python3", Version: "3.11.2", Implementation: "cpython", Platform: "linux-x86_64"},
		Distributions: []receipt.Distribution{{Name: "flask", Version: "3.1.3", Wheel: "flask-3.1.3-py3-none-any.whl", SHA256: strings.Repeat("2", 64), DistInfo: "lib/python3.11/site-packages/flask-3.1.3.dist-info"}}}
	sbom, err := rc.SBOM()
	if err != nil {
		t.Fatal(err)
	}
	rc.SBOMSHA256 = SHA256Hex(sbom)
	data, err := rc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return Set{Name: name, Receipt: data, SBOM: sbom}
}

func TestReleaseStatements(t *testing.T) {
	sets := []Set{testSet(t, "web"), testSet(t, "api")}
	a, err := ReleaseStatements(sets, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReleaseStatements([]Set{sets[1], sets[0]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 4 {
		t.Fatalf("%d statements", len(a))
	}
	ab, bb := StatementBytes(a), StatementBytes(b)
	if ManifestDigest(ab) != ManifestDigest(bb) {
		t.Error("the same sets in another order gave other statements")
	}
	for name, data := range ab {
		st, err := ParseStatement(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		set := strings.SplitN(name, ".", 2)[0]
		want := SHA256Hex(map[string][]byte{"web": sets[0].Receipt, "api": sets[1].Receipt}[set])
		if !st.HasSubject(want) || len(st.Subject) != 1 {
			t.Errorf("%s: subject %v, want the receipt's sha256 %s", name, st.Subject, want)
		}
	}
	sb, _ := ParseStatement(ab[SBOMFile("api")])
	if sb.PredicateType != PredicateSBOM || !bytes.Contains(sb.Predicate, []byte(`"bomFormat":"CycloneDX"`)) {
		t.Errorf("SBOM statement: %s", ab[SBOMFile("api")])
	}
	pst, _ := ParseStatement(ab[ProvenanceFile("api")])
	prov, err := ParseProvenance(pst.Predicate)
	if err != nil {
		t.Fatal(err)
	}
	deps := map[string]string{}
	for _, d := range prov.BuildDefinition.ResolvedDependencies {
		deps[d.Name] = d.Digest["sha256"]
	}
	if deps["lock:api"] != strings.Repeat("1", 64) || deps["flask-3.1.3-py3-none-any.whl"] != strings.Repeat("2", 64) {
		t.Errorf("resolved dependencies %v", deps)
	}
	got := prov.Sets()
	if len(got) != 1 || got[0].Receipt != SHA256Hex(sets[1].Receipt) || got[0].SBOM != SHA256Hex(sets[1].SBOM) {
		t.Errorf("provenance sets %+v", got)
	}
	// An SBOM that is not the one the receipt records is refused.
	bad := testSet(t, "api")
	bad.SBOM = append(bad.SBOM, ' ')
	if _, err := ReleaseStatements([]Set{bad}, nil); err == nil || !strings.Contains(err.Error(), "SBOM") {
		t.Errorf("mismatched SBOM: %v", err)
	}
}

func TestProvenanceContext(t *testing.T) {
	epoch := int64(1700000000)
	api := testSet(t, "api")
	api.Plan = &File{Name: "plan.json", SHA256: strings.Repeat("4", 64)}
	p, err := NewProvenance([]Set{api}, Context{BuilderVersion: "9.9.9", Templates: []File{{Name: "app.pkr.hcl", SHA256: strings.Repeat("3", 64)}},
		Base: &Image{Name: "debian:bookworm", Digest: "sha256:" + strings.Repeat("5", 64)}, SourceDateEpoch: &epoch})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := p.Statement(SHA256Subject("reg/app", strings.Repeat("6", 64)))
	s := string(st.Bytes())
	for _, want := range []string{`"SOURCE_DATE_EPOCH":1700000000`, `"startedOn":"2023-11-14T22:13:20Z"`, strings.Repeat("3", 64),
		`"plan":{"name":"plan.json","sha256":"` + strings.Repeat("4", 64) + `"}`,
		`"digest":{"sha256":"` + strings.Repeat("5", 64), `"pipbake":"9.9.9"`, `"python:api"`, `"version":"3.11.2"`} {
		if !strings.Contains(s, want) {
			t.Errorf("provenance lacks %s:\n%s", want, s)
		}
	}
	again, _ := NewProvenance([]Set{api}, Context{BuilderVersion: "9.9.9", Templates: []File{{Name: "app.pkr.hcl", SHA256: strings.Repeat("3", 64)}},
		Base: &Image{Name: "debian:bookworm", Digest: "sha256:" + strings.Repeat("5", 64)}, SourceDateEpoch: &epoch})
	st2, _ := again.Statement(SHA256Subject("reg/app", strings.Repeat("6", 64)))
	if !bytes.Equal(st.Bytes(), st2.Bytes()) {
		t.Error("the same inputs gave other bytes")
	}
}

// TestReleaseStatementsPlan: a set's plan and the template files are in
// its release provenance, and ReadReleaseProvenance gives them back from
// the statement's bytes, so the post-processor can make the same bytes;
// a statement about another receipt, of another predicate, or not naming
// the set gives nothing.
func TestReleaseStatementsPlan(t *testing.T) {
	api := testSet(t, "api")
	planSum := SHA256Hex([]byte(`{"sets":[]}`))
	api.Plan = &File{Name: "plan.json", SHA256: planSum}
	templates := []File{{Name: "app.pkr.hcl", SHA256: strings.Repeat("3", 64)}}
	sts, err := ReleaseStatements([]Set{api}, templates)
	if err != nil {
		t.Fatal(err)
	}
	data := StatementBytes(sts)[ProvenanceFile("api")]
	if !bytes.Contains(data, []byte(`"plan":{"name":"plan.json","sha256":"`+planSum+`"}`)) || !bytes.Contains(data, []byte(`"templates":[{"name":"app.pkr.hcl"`)) {
		t.Fatalf("the provenance lacks the plan or the templates:\n%s", data)
	}
	plan, tpls, err := ReadReleaseProvenance(data, "api", api.Receipt)
	if err != nil || plan == nil || *plan != *api.Plan || len(tpls) != 1 || tpls[0] != templates[0] {
		t.Fatalf("read back plan %v templates %v: %v", plan, tpls, err)
	}
	again := api
	again.Plan = plan
	made, err := ReleaseStatements([]Set{again}, tpls)
	if err != nil || !bytes.Equal(made[ProvenanceFile("api")].Bytes(), data) {
		t.Errorf("the statement remade from what was read back differs: %v", err)
	}
	// Without a plan the statement names none, and says so.
	none := testSet(t, "api")
	sts, _ = ReleaseStatements([]Set{none}, nil)
	if p, _, err := ReadReleaseProvenance(sts[ProvenanceFile("api")].Bytes(), "api", none.Receipt); err != nil || p != nil {
		t.Errorf("no plan: %v %v", p, err)
	}
	other := testSet(t, "web")
	for name, c := range map[string]struct {
		data    []byte
		set     string
		receipt []byte
		want    string
	}{
		"another receipt": {data, "api", other.Receipt, "not about the receipt"},
		"another set":     {data, "web", api.Receipt, `does not name set "web"`},
		"an SBOM":         {StatementBytes(sts)[SBOMFile("api")], "api", none.Receipt, "not SLSA provenance"},
		"a bad plan":      {bytes.Replace(data, []byte(planSum), []byte("zz"), 1), "api", api.Receipt, "sha256 of 64 hex digits"},
		"not JSON":        {[]byte("{"), "api", api.Receipt, "not JSON"},
	} {
		if _, _, err := ReadReleaseProvenance(c.data, c.set, c.receipt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestParseStatementRefusals(t *testing.T) {
	for _, c := range []string{
		`{}`,
		`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}`,
		`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"zz"}}],"predicateType":"x","predicate":{}}`,
		`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + strings.Repeat("a", 64) + `"}}],"predicateType":"","predicate":{}}`,
		`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + strings.Repeat("a", 64) + `"}}],"predicateType":"x","predicate":[]}`,
	} {
		if _, err := ParseStatement([]byte(c)); err == nil {
			t.Errorf("accepted %s", c)
		}
	}
}
