// Package catalog is pipbake's release catalog: the tag schema that turns a
// baked image (an AMI, or an OCI image in a registry) into a release of a
// family, and the ordering of a family's releases.
//
// # Tag schema
//
// Every baked image carries these tags (AMIs and their snapshots) or
// annotations and labels (OCI images), with the same keys:
//
//	pipbake:family          the image's family, e.g. api-node (required)
//	pipbake:release         the bake's release id, e.g. 2026.11.26 (required)
//	pipbake:sets            each set and its version, e.g. api@1.4.2,worker@2.0.1
//	pipbake:receipt-sha256  sha256 of the bake's receipts
//	pipbake:lock-sha256     sha256 of the bake's locks
//	pipbake:base            what it was built on (optional), e.g. the source AMI
//
// A release marked bad carries two more (see Revocation; an OCI image,
// which cannot change without changing its digest, gets them on a record
// that refers to it):
//
//	pipbake:revoked         why
//	pipbake:revoked-at      since when (RFC 3339, UTC)
//
// Facts and DiffFacts compare two releases: tags give the sets and their
// versions, the locks' and receipts' sha256 and the base; receipts give
// each set's distributions, lock and interpreter.
//
// An image with pipbake:family and pipbake:release is a release, whoever
// tagged it (the pipbake-release post-processor, or amazon-ebs `tags` by
// hand). A family's releases sort by release id, digit runs compared as
// numbers (1.9 < 1.10, 9 < 10), then by creation date.
//
// A set's version in pipbake:sets is the version of the distribution named
// like the set (set "api" installing api 1.4.2 gives api@1.4.2), else the
// set's release id. Sets are listed by name. A list longer than a tag value
// allows (256 characters) is cut at a set and ends with ",+N" for the N sets
// left out.
//
// With one set, pipbake:lock-sha256 is its lock file's sha256 and
// pipbake:receipt-sha256 its receipt file's (<set>.json as the provisioner's
// receipt_output writes it). With several, each is the sha256 of a manifest
// in sha256sum's format, one line per set sorted by set name:
// "<lock sha256>  <set>\n", and "<receipt sha256>  <set>.json\n" (so
// `sha256sum $(ls *.json | grep -v cdx.json | sort) | sha256sum` in the
// receipts folder gives the latter).
//
// Values stay within AWS's limits: keys of at most 128 characters, values
// of at most 256, and at most 50 tags on a resource, counting the tags it
// already has.
//
// The subpackages amazon and registry hold the catalogs of AMIs (with
// autoscaling groups) and of registry repositories.
package catalog
