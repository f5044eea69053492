package ociimage

import (
	"fmt"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI annotation keys the builder sets.
const (
	AnnotationVersion    = "org.opencontainers.image.version"
	AnnotationCreated    = "org.opencontainers.image.created"
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
	AnnotationRefName    = "org.opencontainers.image.ref.name"
)

// Layer is one new layer and its history entry.
type Layer struct {
	Layer     v1.Layer
	CreatedBy string
	Comment   string
}

// Config is what the built image's config may override; empty fields keep
// the base's values, Env entries replace a variable of the same name and
// Labels are merged.
type Config struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string
	User         string
	WorkingDir   string
	ExposedPorts []string
	Labels       map[string]string
}

// Spec describes the image to assemble.
type Spec struct {
	Layers []Layer
	Config Config
	// Epoch is the image's created time and every new history entry's.
	Epoch time.Time
	// Annotations go on the manifest, over the standard ones.
	Annotations map[string]string
	// Version is org.opencontainers.image.version (optional).
	Version string
}

// Assemble stacks spec.Layers on base and sets config, history and
// annotations. The result is an OCI image (a Docker base's manifest and
// config media types are converted).
func Assemble(base *Base, spec Spec) (v1.Image, error) {
	epoch := v1.Time{Time: spec.Epoch.UTC()}
	img := base.Image
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	if mt == types.DockerManifestSchema2 {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	adds := make([]mutate.Addendum, 0, len(spec.Layers))
	for _, l := range spec.Layers {
		adds = append(adds, mutate.Addendum{Layer: l.Layer, History: v1.History{
			Created: epoch, CreatedBy: l.CreatedBy, Comment: l.Comment,
		}})
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = epoch
	cf.Container, cf.DockerVersion = "", ""
	c := &cf.Config
	if spec.Config.Entrypoint != nil {
		c.Entrypoint = spec.Config.Entrypoint
		if spec.Config.Cmd == nil {
			c.Cmd = nil // a new entrypoint does not inherit the base's arguments
		}
	}
	if spec.Config.Cmd != nil {
		c.Cmd = spec.Config.Cmd
	}
	if spec.Config.User != "" {
		c.User = spec.Config.User
	}
	if spec.Config.WorkingDir != "" {
		c.WorkingDir = spec.Config.WorkingDir
	}
	c.Env = mergeEnv(c.Env, spec.Config.Env)
	if len(spec.Config.ExposedPorts) > 0 {
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range spec.Config.ExposedPorts {
			c.ExposedPorts[p] = struct{}{}
		}
	}
	if len(spec.Config.Labels) > 0 {
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for k, v := range spec.Config.Labels {
			c.Labels[k] = v
		}
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	ann := map[string]string{
		AnnotationCreated:    spec.Epoch.UTC().Format(time.RFC3339),
		AnnotationBaseName:   base.Name,
		AnnotationBaseDigest: base.Digest.String(),
	}
	if spec.Version != "" {
		ann[AnnotationVersion] = spec.Version
	}
	for k, v := range spec.Annotations {
		ann[k] = v
	}
	out, ok := mutate.Annotations(img, ann).(v1.Image)
	if !ok {
		return nil, fmt.Errorf("ociimage: annotating the image")
	}
	return out, nil
}

// mergeEnv sets each KEY=VALUE of add in env, replacing an existing KEY.
func mergeEnv(env, add []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range add {
		k := kv
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				k = kv[:i]
				break
			}
		}
		replaced := false
		for i, e := range out {
			if len(e) > len(k) && e[:len(k)] == k && e[len(k)] == '=' || e == k {
				out[i] = kv
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// SortedKeys returns m's keys in order.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
