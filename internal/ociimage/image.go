package ociimage

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
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
	// Created is the image's created time (the config's, the
	// org.opencontainers.image.created annotation's and every new history
	// entry's). Zero means CreatedTime(nil): SOURCE_DATE_EPOCH when set,
	// else now.
	Created time.Time
	// Annotations go on the manifest, over the standard ones.
	Annotations map[string]string
	// Version is org.opencontainers.image.version (optional).
	Version string
}

// Assemble stacks spec.Layers on base and sets config, history and
// annotations. The result is an OCI image (a Docker base's manifest and
// config media types are converted).
//
// The base's name goes into org.opencontainers.image.base.name only when
// it is a registry reference (as the user wrote it): an OCI layout or a
// docker archive is a path on the building host, which the image must
// not record. The base's digest is always recorded.
func Assemble(base *Base, spec Spec) (v1.Image, error) {
	created := spec.Created
	if created.IsZero() {
		var err error
		if created, err = CreatedTime(nil); err != nil {
			return nil, err
		}
	}
	created = created.UTC().Truncate(time.Second)
	epoch := v1.Time{Time: created}
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
	// The base's builder fields are no part of this image (and would
	// tie its digest to how the base was built).
	//lint:ignore SA1019 the field is deprecated but still read and written
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
		AnnotationCreated:    created.Format(time.RFC3339),
		AnnotationBaseDigest: base.Digest.String(),
	}
	if IsRegistryReference(base.Name) {
		ann[AnnotationBaseName] = base.Name
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

// CreatedTime is the created time of an image baked now: configured (a
// template's source_date_epoch) when given, else SOURCE_DATE_EPOCH when
// set, else the current time. Releases baked on the same base thus tell
// apart by their created time; a build that must be reproducible to the
// digest sets SOURCE_DATE_EPOCH (or source_date_epoch).
func CreatedTime(configured *int64) (time.Time, error) {
	if configured != nil {
		return time.Unix(*configured, 0).UTC(), nil
	}
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want a non-negative Unix time in seconds", v)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

// IsRegistryReference reports whether a base reference names an image in
// a registry, not a local OCI layout or docker archive.
func IsRegistryReference(ref string) bool {
	return ref != "" && !strings.HasPrefix(ref, LayoutPrefix) && !strings.HasPrefix(ref, DockerArchivePrefix)
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
