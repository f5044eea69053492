package oci

import (
	"time"

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
	session *chroot.Session

	// stepLayers
	layers   []ociimage.Layer
	sets     []bakedSet
	receipts []ociimage.SetReceipt
	changes  int

	// stepImage
	artifact *Artifact
}

// bakedSet is one pipbake set found in the root after provisioning.
type bakedSet struct {
	Name, Root, Release string
	// Layer is the set's layer (nil with layer_per_set off).
	Layer *layer.Result
}
