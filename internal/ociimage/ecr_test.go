package ociimage_test

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/mototest"
)

// TestECRKeychain gets registry credentials for an ECR host from moto's
// ECR through AWS's usual configuration (AWS_ENDPOINT_URL, keys, region).
func TestECRKeychain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto_server")
	}
	srv := mototest.Start(t, mototest.Options{})
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", mototest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", mototest.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	host := "123456789012.dkr.ecr.us-east-1.amazonaws.com"
	reg, err := ociimage.ParseReference(host + "/app:1")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ociimage.Keychain(context.Background()).Resolve(reg.Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Username != "AWS" || cfg.Password == "" {
		t.Errorf("ECR credentials: user %q, password set %v", cfg.Username, cfg.Password != "")
	}
	// Other registries get no ECR lookup.
	other, _ := ociimage.ParseReference("registry.example.com/app:1")
	if a, err := ociimage.Keychain(context.Background()).Resolve(other.Context()); err != nil || a != authn.Anonymous {
		t.Errorf("non-ECR host: %v %v", a, err)
	}
}
