// Package attest makes and checks what proves a bake to someone who did
// not run it: in-toto v1 Statements about a release (subject: an OCI
// image's digest, or a set's release tree digest, the sha256 of its
// receipt), with a CycloneDX SBOM or SLSA provenance v1 as predicate;
// DSSE envelopes around them, signed with an ECDSA P-256 key (a PEM key,
// or cosign's encrypted key format) or left unsigned; and the signing and
// verifying keys themselves.
//
// Every statement is a pure function of its inputs (receipts, SBOM bytes,
// digests, SOURCE_DATE_EPOCH): no clock, no random serial, so two bakes of
// the same inputs write the same bytes. Signatures (ECDSA) differ between
// runs; the statements they sign do not.
//
// Keys and passwords never appear in errors: an error names the key file
// and what is wrong with it, never its content.
package attest
