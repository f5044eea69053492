// Package npm installs Node.js package sets the way `npm ci` lays them
// out, without npm: it reads package-lock.json and npm-shrinkwrap.json
// (lockfileVersion 2 and 3) and refuses what cannot be installed exactly
// (ReadLock), probes the target's node once (Probe, through a Runner so
// it works on a remote machine too), chooses the packages for the target
// (Lock.Select: production only by default, optional packages of another
// os, cpu or libc left out, engines checked), and lays them out into a
// release directory (Install): every tarball checked against the lock's
// integrity and unpacked in parallel, streaming, with npm's path rules and
// file modes; bin links in node_modules/.bin with npm's winner on a clash;
// node_modules/.package-lock.json as npm writes it; the lifecycle scripts
// of allowed packages only, without network; and the sha256 of every file
// written, for the receipt.
//
// The tarballs come from a folder `pipbake fetch` wrote (TarballFile names
// each) or from a tar archive of one (OpenTarballs).
package npm
