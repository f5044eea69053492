package ociimage

import "github.com/google/go-containerregistry/pkg/v1/remote"

// RemoteOptions are the go-containerregistry options that opts stand for
// (keychain, transport, context, platform), for code that talks to a
// registry beside this package, such as attaching attestations.
func RemoteOptions(opts ...Option) []remote.Option { return makeOptions(opts).remoteOpts() }
