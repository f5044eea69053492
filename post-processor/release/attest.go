package release

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
)

// AttestationsDir is where the post-processor writes the signed
// attestations, inside receipts_dir.
const AttestationsDir = "attestations"

// signer loads signing_key (its password from COSIGN_PASSWORD), nil
// without one.
func (p *PostProcessor) signer() (*ecdsa.PrivateKey, error) {
	if p.config.SigningKey == "" {
		return nil, nil
	}
	k, err := attest.LoadPrivateKey(p.config.SigningKey, []byte(os.Getenv(attest.PasswordEnv)))
	if err != nil {
		return nil, fmt.Errorf("signing_key: %w", err)
	}
	return k, nil
}

// Attested is what attestRelease wrote.
type Attested struct {
	// Digest is the statements' manifest digest (pipbake:attestation-sha256).
	Digest string
	// Files are the envelopes written.
	Files  []string
	Signed bool
}

// attestRelease makes each set's statements from the receipts and SBOMs
// in receipts_dir (the same bytes the agent kept in the image, under
// /var/lib/pipbake/attestations), wraps them in DSSE envelopes signed with
// signing_key (unsigned without one) and writes them to
// receipts_dir/attestations/<statement>.dsse.json. The key never leaves
// this host.
//
// The plan that installed each set and the template files, by sha256, come
// from the provenance statements the provisioner wrote beside the receipts
// (receipts_dir/attestations/<set>.provenance.intoto.json; Packer tells a
// post-processor neither): the statements made here must be those, byte
// for byte, or the receipts and the statements do not belong together. A
// receipts folder without them (an older provisioner's) gives statements
// that name no plan and no template.
func (p *PostProcessor) attestRelease() (*Attested, error) {
	dir := p.config.ReceiptsDir
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read receipts: %w", err)
	}
	var sets []attest.Set
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".cdx.json") {
			continue
		}
		set := strings.TrimSuffix(n, ".json")
		rc, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("read receipts: %w", err)
		}
		sbom, err := os.ReadFile(filepath.Join(dir, set+".cdx.json"))
		if err != nil {
			return nil, fmt.Errorf("set %s has no SBOM beside its receipt: %w", set, err)
		}
		sets = append(sets, attest.Set{Name: set, Receipt: rc, SBOM: sbom})
	}
	out := filepath.Join(dir, AttestationsDir)
	sts := map[string]*attest.Statement{}
	for _, s := range sets {
		made, err := releaseStatements(out, s)
		if err != nil {
			return nil, err
		}
		for n, st := range made {
			sts[n] = st
		}
	}
	key, err := p.signer()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("write attestations: %w", err)
	}
	res := &Attested{Digest: attest.ManifestDigest(attest.StatementBytes(sts)), Signed: key != nil}
	names := make([]string, 0, len(sts))
	for n := range sts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		env, err := attest.Wrap(sts[n], key)
		if err != nil {
			return nil, err
		}
		f := filepath.Join(out, strings.TrimSuffix(n, attest.StatementSuffix)+attest.EnvelopeSuffix)
		if err := os.WriteFile(f, env.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("write attestations: %w", err)
		}
		res.Files = append(res.Files, f)
	}
	return res, nil
}

// releaseStatements makes one set's statements, with the plan and
// template files the provisioner's provenance statement of the set in dir
// names, and checks they are the provisioner's statements.
func releaseStatements(dir string, s attest.Set) (map[string]*attest.Statement, error) {
	var templates []attest.File
	provPath := filepath.Join(dir, attest.ProvenanceFile(s.Name))
	prov, err := os.ReadFile(provPath)
	kept := err == nil
	switch {
	case kept:
		if s.Plan, templates, err = attest.ReadReleaseProvenance(prov, s.Name, s.Receipt); err != nil {
			return nil, fmt.Errorf("%s: %w", provPath, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read the provisioner's statements: %w", err)
	}
	sts, err := attest.ReleaseStatements([]attest.Set{s}, templates)
	if err != nil {
		return nil, err
	}
	if !kept {
		return sts, nil
	}
	for n, st := range sts {
		p := filepath.Join(dir, n)
		got, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read the provisioner's statements: %w", err)
		}
		if !bytes.Equal(got, st.Bytes()) {
			return nil, fmt.Errorf("%s is not the statement set %s's receipt and SBOM make: the receipts folder was changed after the provisioner wrote it", p, s.Name)
		}
	}
	return sts, nil
}

// tagAttestation tags the image and its snapshots with the attestations'
// digest.
func tagAttestation(ctx context.Context, cfg aws.Config, id string, snaps []string, digest string) error {
	_, err := ec2.NewFromConfig(cfg).CreateTags(ctx, &ec2.CreateTagsInput{Resources: append([]string{id}, snaps...),
		Tags: []ec2types.Tag{{Key: aws.String(attest.TagAttestationSHA256), Value: aws.String(digest)}}})
	if err != nil {
		return fmt.Errorf("tag %s with %s: %w", id, attest.TagAttestationSHA256, err)
	}
	return nil
}
