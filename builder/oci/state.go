package oci

import (
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pipbake/packer-plugin-pipbake/internal/chroot"
	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

// build is what the steps share.
type build struct {
	cfg   *Config
	start time.Time

	// stepBase
	base  *ociimage.Base
	opts  []ociimage.Option
	epoch time.Time

	// stepRootfs
	root *buildRoot

	// stepCommunicator
	mu      sync.Mutex
	session *chroot.Session

	// stepLayers
	layers   []ociimage.Layer
	sets     []bakedSet
	receipts []ociimage.SetReceipt
	changes  int

	// stepImage
	artifact *Artifact
	image    v1.Image
}

// closeSession ends every operation running in the root.
func (b *build) closeSession() {
	b.mu.Lock()
	s := b.session
	b.mu.Unlock()
	if s != nil {
		s.Close()
	}
}

// bakedSet is one pipbake set found in the root after provisioning.
type bakedSet struct {
	Name, Root, Release string
	// Layer is the set's layer (nil with layer_per_set off).
	Layer *layer.Result
}
