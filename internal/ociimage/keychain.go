package ociimage

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
)

// Keychain finds registry credentials in the docker config
// (~/.docker/config.json, $DOCKER_CONFIG, credential helpers) and, for
// Amazon ECR hosts, from AWS's usual credential chain through ECR's
// GetAuthorizationToken.
func Keychain(ctx context.Context) authn.Keychain {
	return authn.NewMultiKeychain(authn.DefaultKeychain, &ecrKeychain{ctx: ctx})
}

// ecrHost matches ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn].
var ecrHost = regexp.MustCompile(`^(\d{12})\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// ECRRegion returns the region of an ECR registry host, or "".
func ECRRegion(host string) string {
	m := ecrHost.FindStringSubmatch(host)
	if m == nil {
		return ""
	}
	return m[3]
}

type ecrKeychain struct {
	ctx   context.Context
	mu    sync.Mutex
	cache map[string]authn.Authenticator
}

func (k *ecrKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	region := ECRRegion(r.RegistryStr())
	if region == "" {
		return authn.Anonymous, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if a, ok := k.cache[r.RegistryStr()]; ok {
		return a, nil
	}
	a, err := ECRAuth(k.ctx, region, r.RegistryStr())
	if err != nil {
		return nil, err
	}
	if k.cache == nil {
		k.cache = map[string]authn.Authenticator{}
	}
	k.cache[r.RegistryStr()] = a
	return a, nil
}

// ECRAuth asks ECR in region for a registry token (AWS_ENDPOINT_URL and
// the usual AWS variables and profiles apply).
func ECRAuth(ctx context.Context, region, host string) (authn.Authenticator, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("ECR %s: AWS configuration: %w", host, err)
	}
	out, err := ecr.NewFromConfig(cfg).GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return nil, fmt.Errorf("ECR %s: get authorization token: %w", host, err)
	}
	for _, d := range out.AuthorizationData {
		if d.AuthorizationToken == nil {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(*d.AuthorizationToken)
		if err != nil {
			return nil, fmt.Errorf("ECR %s: token: %w", host, err)
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return nil, fmt.Errorf("ECR %s: token is not user:password", host)
		}
		return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
	}
	return nil, fmt.Errorf("ECR %s: no authorization data", host)
}
