package bake

import (
	"context"
	"fmt"
	"os"

	"github.com/pipbake/packer-plugin-pipbake/internal/agent"
	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
)

// Preview is what Run would upload to a machine.
type Preview struct {
	Platform agent.Platform
	// Agent says where the agent would come from.
	Agent string
	// Pythons is each set's runtime version on the machine: the
	// interpreter's ("3.11.7"), or "node 20.19.2" for a Node set.
	Pythons map[string]string
	// Wheels and Size are the bundle's packages (wheels and npm tarballs)
	// and its size in bytes.
	Wheels int
	Size   int64
}

// PreviewRun does what Run does up to the upload, through the same steps
// (detect the machine, probe its interpreters, choose or fetch the wheels,
// assemble the bundle), and uploads and installs nothing; the staging
// folder the first command makes is removed. `pipbake push --dry-run`
// uses it.
func PreviewRun(ctx context.Context, r Remote, opts Options) (p *Preview, err error) {
	if opts.Staging == "" {
		opts.Staging = "/tmp/pipbake"
	}
	if len(opts.Sets) == 0 {
		return nil, fmt.Errorf("bake: no sets")
	}
	defer func() {
		if _, cerr := runChecked(context.WithoutCancel(ctx), r, "rm -rf "+shell.Quote(opts.Staging), nil); cerr != nil && err == nil {
			err = fmt.Errorf("clean staging folder %s: %w", opts.Staging, cerr)
		}
	}()
	res := &Result{}
	targets, _, err := detect(ctx, r, opts, res)
	if err != nil {
		return nil, err
	}
	bin, err := agent.For(res.Platform, opts.AgentPath)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "pipbake-preview-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	b, _, nwheels, err := assemble(ctx, opts, bin, targets, tmp, nil)
	if err != nil {
		return nil, err
	}
	size, err := b.Size()
	if err != nil {
		return nil, err
	}
	p = &Preview{Platform: res.Platform, Agent: bin.From, Pythons: map[string]string{}, Wheels: nwheels, Size: size}
	for _, s := range opts.Sets {
		if t := targets[runtimeKey(s)]; t != nil {
			p.Pythons[s.Name] = t.version()
		}
	}
	return p, nil
}
