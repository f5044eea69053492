package ociattest_test

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest/ociattest"
)

func staticLayer(data []byte) v1.Layer { return static.NewLayer(data, ociattest.EnvelopeMediaType) }

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
