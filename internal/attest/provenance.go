package attest

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// BuildType is the SLSA build type of a pipbake bake: its external
// parameters are the template files, the base image and each set's name,
// root, lock and the plan that installed it; its resolved dependencies
// every lock, wheel, interpreter and the base image, by digest.
const BuildType = "https://github.com/pipbake/packer-plugin-pipbake/blob/main/docs/attestations.md#buildtype-v1"

// BuilderID names pipbake as the SLSA builder.
const BuilderID = "https://github.com/pipbake/packer-plugin-pipbake"

// Set is one installed set as the statements see it.
type Set struct {
	Name string
	// Root is the set's release root (optional: the install side and the
	// OCI builder know it, receipts alone do not).
	Root string
	// Receipt and SBOM are the bytes of the release's receipt and SBOM.
	Receipt []byte
	SBOM    []byte
	// Layer is the set's layer digest ("sha256:..."), for an OCI image.
	Layer string
	// Plan is the plan file the agent installed the set from, by sha256
	// (optional: an install without a plan has none). Sets of one image
	// may come from several plans (several provisioner blocks).
	Plan *File
}

// File is a named file by sha256.
type File struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Image is an image by name and digest.
type Image struct {
	Name   string `json:"name"`
	Digest string `json:"digest"` // sha256:...
}

// Context is what a producer knows of a bake beyond the receipts.
type Context struct {
	// BuilderVersion is pipbake's version; default the receipts'.
	BuilderVersion string
	// Templates are the Packer template files (optional).
	Templates []File
	// Base is the base image (optional).
	Base *Image
	// SourceDateEpoch is SOURCE_DATE_EPOCH, when the bake had one.
	SourceDateEpoch *int64
}

// Provenance is the SLSA provenance v1 predicate.
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition is SLSA's buildDefinition.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   ExternalParameters   `json:"externalParameters"`
	InternalParameters   InternalParameters   `json:"internalParameters"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies"`
}

// ExternalParameters are what the user chose.
type ExternalParameters struct {
	Templates []File     `json:"templates,omitempty"`
	Base      *Image     `json:"base,omitempty"`
	Sets      []SetParam `json:"sets"`
}

// SetParam is one set of a bake.
type SetParam struct {
	Name    string `json:"name"`
	Root    string `json:"root,omitempty"`
	Release string `json:"release"`
	Lock    File   `json:"lock"`
	// Plan is the plan file that installed the set.
	Plan   *File  `json:"plan,omitempty"`
	Python string `json:"python"`
}

// InternalParameters are what pipbake derived.
type InternalParameters struct {
	SourceDateEpoch *int64     `json:"SOURCE_DATE_EPOCH,omitempty"`
	Sets            []SetBuild `json:"sets"`
}

// SetBuild is how one set was installed.
type SetBuild struct {
	Name      string `json:"name"`
	Created   string `json:"created"`
	Installer string `json:"installer"`
	Compiled  bool   `json:"compiled"`
	Pipbake   string `json:"pipbake"`
}

// ResourceDescriptor is SLSA's (in-toto's) ResourceDescriptor.
type ResourceDescriptor struct {
	Name        string            `json:"name,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Digest      map[string]string `json:"digest,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RunDetails is SLSA's runDetails.
type RunDetails struct {
	Builder    Builder              `json:"builder"`
	Metadata   *RunMetadata         `json:"metadata,omitempty"`
	Byproducts []ResourceDescriptor `json:"byproducts,omitempty"`
}

// Builder identifies pipbake.
type Builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// RunMetadata carries the bake's time, SOURCE_DATE_EPOCH's when it had
// one (never the clock: the statement is reproducible).
type RunMetadata struct {
	StartedOn  string `json:"startedOn,omitempty"`
	FinishedOn string `json:"finishedOn,omitempty"`
}

// Byproduct names of a set's receipt, SBOM and layer.
const (
	ByproductReceipt = "receipt"
	ByproductSBOM    = "sbom"
	ByproductLayer   = "layer"
)

// parsed is a set with its receipt decoded.
type parsed struct {
	Set
	rc *receipt.Receipt
}

func parseSets(sets []Set) ([]parsed, error) {
	out := make([]parsed, 0, len(sets))
	seen := map[string]bool{}
	for _, s := range sets {
		rc, err := receipt.Parse(s.Name+" receipt", s.Receipt)
		if err != nil {
			return nil, err
		}
		if s.Name == "" {
			s.Name = rc.Set
		}
		if rc.Set != s.Name {
			return nil, fmt.Errorf("the receipt of set %q is set %q's", s.Name, rc.Set)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("set %q is given twice", s.Name)
		}
		seen[s.Name] = true
		if len(s.SBOM) > 0 && rc.SBOMSHA256 != "" && SHA256Hex(s.SBOM) != rc.SBOMSHA256 {
			return nil, fmt.Errorf("the SBOM of set %q has sha256 %s, its receipt records %s", s.Name, SHA256Hex(s.SBOM), rc.SBOMSHA256)
		}
		out = append(out, parsed{s, rc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// NewProvenance makes the provenance predicate of sets baked in ctx.
func NewProvenance(sets []Set, ctx Context) (*Provenance, error) {
	ps, err := parseSets(sets)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("attest: provenance of no set")
	}
	p := &Provenance{}
	bd := &p.BuildDefinition
	bd.BuildType = BuildType
	bd.ExternalParameters = ExternalParameters{Templates: ctx.Templates, Base: ctx.Base, Sets: []SetParam{}}
	bd.InternalParameters = InternalParameters{SourceDateEpoch: ctx.SourceDateEpoch, Sets: []SetBuild{}}
	bd.ResolvedDependencies = []ResourceDescriptor{}
	if b := ctx.Base; b != nil {
		rd := ResourceDescriptor{Name: "base", URI: "oci:" + b.Name}
		if alg, hex, ok := cutDigest(b.Digest); ok {
			rd.Digest = map[string]string{alg: hex}
		}
		bd.ResolvedDependencies = append(bd.ResolvedDependencies, rd)
	}
	for _, s := range ps {
		rc := s.rc
		bd.ExternalParameters.Sets = append(bd.ExternalParameters.Sets, SetParam{Name: s.Name, Root: s.Root, Release: rc.Release,
			Lock: File{Name: rc.Lock.Path, SHA256: rc.Lock.SHA256}, Plan: s.Plan, Python: rc.Interpreter.Path})
		bd.InternalParameters.Sets = append(bd.InternalParameters.Sets, SetBuild{Name: s.Name, Created: rc.Created.UTC().Format("2006-01-02T15:04:05Z"),
			Installer: rc.Installer, Compiled: rc.Compiled, Pipbake: rc.Pipbake})
		bd.ResolvedDependencies = append(bd.ResolvedDependencies,
			ResourceDescriptor{Name: "lock:" + s.Name, URI: "file:" + rc.Lock.Path, Digest: map[string]string{"sha256": rc.Lock.SHA256},
				Annotations: map[string]string{"format": rc.Lock.Format}},
			ResourceDescriptor{Name: "python:" + s.Name, URI: "file:" + rc.Interpreter.Path,
				Annotations: map[string]string{"version": rc.Interpreter.Version, "implementation": rc.Interpreter.Implementation, "platform": rc.Interpreter.Platform}})
		for _, d := range rc.Distributions {
			bd.ResolvedDependencies = append(bd.ResolvedDependencies, ResourceDescriptor{Name: d.Wheel,
				URI: "pkg:pypi/" + d.Name + "@" + d.Version, Digest: map[string]string{"sha256": d.SHA256},
				Annotations: map[string]string{"set": s.Name}})
		}
		p.RunDetails.Byproducts = append(p.RunDetails.Byproducts,
			ResourceDescriptor{Name: ByproductReceipt + ":" + s.Name, URI: receipt.FileName, Digest: map[string]string{"sha256": SHA256Hex(s.Receipt)}})
		if len(s.SBOM) > 0 {
			p.RunDetails.Byproducts = append(p.RunDetails.Byproducts,
				ResourceDescriptor{Name: ByproductSBOM + ":" + s.Name, URI: receipt.SBOMName, Digest: map[string]string{"sha256": SHA256Hex(s.SBOM)}})
		}
		if alg, hex, ok := cutDigest(s.Layer); ok {
			p.RunDetails.Byproducts = append(p.RunDetails.Byproducts,
				ResourceDescriptor{Name: ByproductLayer + ":" + s.Name, Digest: map[string]string{alg: hex}})
		}
	}
	version := ctx.BuilderVersion
	if version == "" {
		version = ps[0].rc.Pipbake
	}
	p.RunDetails.Builder = Builder{ID: BuilderID, Version: map[string]string{"pipbake": version}}
	if ctx.SourceDateEpoch != nil {
		t := formatEpoch(*ctx.SourceDateEpoch)
		p.RunDetails.Metadata = &RunMetadata{StartedOn: t, FinishedOn: t}
	}
	return p, nil
}

func formatEpoch(sec int64) string {
	return time.Unix(sec, 0).UTC().Format("2006-01-02T15:04:05Z")
}

// cutDigest splits "alg:hex".
func cutDigest(d string) (alg, hex string, ok bool) {
	for i := 0; i < len(d); i++ {
		if d[i] == ':' {
			return d[:i], d[i+1:], i > 0 && i < len(d)-1
		}
	}
	return "", "", false
}

// Sets is the provenance's sets: each by name, with its receipt, SBOM and
// layer digests (hex; "" when absent) and its root.
func (p *Provenance) Sets() []SetDigests {
	var out []SetDigests
	idx := map[string]int{}
	for _, s := range p.BuildDefinition.ExternalParameters.Sets {
		idx[s.Name] = len(out)
		out = append(out, SetDigests{Name: s.Name, Root: s.Root, Release: s.Release})
	}
	for _, b := range p.RunDetails.Byproducts {
		kind, set, ok := cutName(b.Name)
		i, known := idx[set]
		if !ok || !known {
			continue
		}
		switch kind {
		case ByproductReceipt:
			out[i].Receipt = b.Digest["sha256"]
		case ByproductSBOM:
			out[i].SBOM = b.Digest["sha256"]
		case ByproductLayer:
			if h, ok := b.Digest["sha256"]; ok {
				out[i].Layer = "sha256:" + h
			}
		}
	}
	return out
}

// SetDigests are what a provenance records of one set.
type SetDigests struct {
	Name, Root, Release string
	Receipt, SBOM       string // sha256 hex
	Layer               string // sha256:...
}

func cutName(n string) (kind, set string, ok bool) {
	for i := 0; i < len(n); i++ {
		if n[i] == ':' {
			return n[:i], n[i+1:], true
		}
	}
	return "", "", false
}

// ParseProvenance decodes a provenance predicate.
func ParseProvenance(predicate []byte) (*Provenance, error) {
	var p Provenance
	if err := json.Unmarshal(predicate, &p); err != nil {
		return nil, fmt.Errorf("provenance is not valid: %w", err)
	}
	if p.BuildDefinition.BuildType != BuildType {
		return nil, fmt.Errorf("provenance build type %q is not pipbake's", clip(p.BuildDefinition.BuildType))
	}
	return &p, nil
}

// Statement wraps the provenance in a statement about subjects.
func (p *Provenance) Statement(subjects ...Subject) (*Statement, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return NewStatement(PredicateSLSA, data, subjects...)
}

// SBOMStatement is a statement about subjects with a CycloneDX SBOM as
// predicate (its bytes, compacted).
func SBOMStatement(sbom []byte, subjects ...Subject) (*Statement, error) {
	return NewStatement(PredicateSBOM, sbom, subjects...)
}

// Release statement files: per set, an SBOM statement and a provenance
// statement whose subject is the set's release tree digest (the sha256 of
// its receipt), as the agent keeps them in an image and the pipbake-release
// post-processor signs them.
const (
	// Dir is where the agent keeps them in an image.
	Dir = "/var/lib/pipbake/attestations"
	// StatementSuffix and EnvelopeSuffix end a statement's and a DSSE
	// envelope's file name.
	StatementSuffix = ".intoto.json"
	EnvelopeSuffix  = ".dsse.json"
)

// SBOMFile and ProvenanceFile name a set's statement files.
func SBOMFile(set string) string       { return set + ".sbom" + StatementSuffix }
func ProvenanceFile(set string) string { return set + ".provenance" + StatementSuffix }

// ReleaseStatements makes every set's statement files, by file name. The
// statements depend only on the receipts, the SBOMs, each set's plan and
// the template files, so the agent that installed the sets (it hashes the
// plan it read; the provisioner tells it the templates' digests), the
// provisioner (it hashes the plan it uploaded) and the post-processor
// (it reads both back from the provisioner's statements,
// ReadReleaseProvenance) write the same bytes.
func ReleaseStatements(sets []Set, templates []File) (map[string]*Statement, error) {
	ps, err := parseSets(sets)
	if err != nil {
		return nil, err
	}
	out := map[string]*Statement{}
	for _, s := range ps {
		sub := SHA256Subject(s.Name, SHA256Hex(s.Receipt))
		if len(s.SBOM) == 0 {
			return nil, fmt.Errorf("set %q has no SBOM", s.Name)
		}
		sb, err := SBOMStatement(s.SBOM, sub)
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", s.Name, err)
		}
		only := s.Set
		only.Root = "" // receipts do not carry the root: keep both sides equal
		prov, err := NewProvenance([]Set{only}, Context{Templates: templates})
		if err != nil {
			return nil, err
		}
		pst, err := prov.Statement(sub)
		if err != nil {
			return nil, err
		}
		out[SBOMFile(s.Name)] = sb
		out[ProvenanceFile(s.Name)] = pst
	}
	return out, nil
}

// ReadReleaseProvenance reads back what a set's release provenance
// statement (the ProvenanceFile the agent or the provisioner wrote) holds
// beyond the receipt: the plan that installed the set and the template
// files. The statement must be SLSA provenance about receipt (its sha256)
// naming the set.
func ReadReleaseProvenance(data []byte, set string, receipt []byte) (plan *File, templates []File, err error) {
	st, err := ParseStatement(data)
	if err != nil {
		return nil, nil, err
	}
	if st.PredicateType != PredicateSLSA {
		return nil, nil, fmt.Errorf("the statement's predicate is %q, not SLSA provenance", clip(st.PredicateType))
	}
	if d := SHA256Hex(receipt); !st.HasSubject(d) {
		return nil, nil, fmt.Errorf("the statement is not about the receipt of set %q (sha256 %s)", set, d)
	}
	p, err := ParseProvenance(st.Predicate)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range p.BuildDefinition.ExternalParameters.Sets {
		if s.Name == set {
			if s.Plan != nil && (s.Plan.Name == "" || !IsSHA256(s.Plan.SHA256)) {
				return nil, nil, fmt.Errorf("the provenance of set %q names its plan without a name and a sha256 of 64 hex digits", set)
			}
			templates := p.BuildDefinition.ExternalParameters.Templates
			for _, f := range templates {
				if f.Name == "" || !IsSHA256(f.SHA256) {
					return nil, nil, fmt.Errorf("the provenance of set %q names a template file without a name and a sha256 of 64 hex digits", set)
				}
			}
			return s.Plan, templates, nil
		}
	}
	return nil, nil, fmt.Errorf("the provenance does not name set %q", set)
}

// StatementBytes are the statements' bytes by file name.
func StatementBytes(sts map[string]*Statement) map[string][]byte {
	out := make(map[string][]byte, len(sts))
	for n, s := range sts {
		out[n] = s.Bytes()
	}
	return out
}

// TagAttestationSHA256 is the AMI tag (beside the catalog's
// pipbake:receipt-sha256) that carries ManifestDigest of a bake's release
// statements.
const TagAttestationSHA256 = "pipbake:attestation-sha256"
