package bake

import (
	"context"
	"fmt"
	"os"

	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// pythonEcosystem bakes Python sets: the wheels the machine's
// interpreter needs.
type pythonEcosystem struct{}

var _ ecosystem = pythonEcosystem{}

// python is a probed interpreter.
type python struct {
	t      *target.Target
	runner string
}

func (p python) describe() string {
	return fmt.Sprintf("Python %s at %s (%s)", p.t.VersionFull, p.runner, p.t.Platform)
}

func (p python) version() string { return p.t.VersionFull }

func (pythonEcosystem) runtime(s plan.Set) string { return pythonOf(s) }
func (pythonEcosystem) probe(py string) string    { return probeCommand(py) }

func (pythonEcosystem) decode(out []byte, py string) (probed, error) {
	t, err := target.Decode(out, py)
	if err != nil {
		return nil, err
	}
	return python{t, py}, nil
}

func (pythonEcosystem) bundle(ctx context.Context, opts Options, s plan.Set, rt probed, dir string) (*bundled, error) {
	t := rt.(python).t
	lk, err := lock.ParseFile(s.Lock)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", s.Name, err)
	}
	pins, err := lk.ForEnv(t.Markers)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", s.Name, err)
	}
	supported, err := t.Tags()
	if err != nil {
		return nil, err
	}
	house := opts.Wheelhouse
	if len(opts.Sources) > 0 {
		if house, err = fetchFor(ctx, opts, s, lk, t, dir); err != nil {
			return nil, err
		}
	}
	if st, err := os.Stat(house); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("wheelhouse %s: the bundle is made from a folder of wheels, not an archive", house)
	}
	h, err := wheelhouse.Open(house)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	choices, err := h.Choose(pins, supported)
	if err != nil {
		return nil, fmt.Errorf("set %q (Python %s on the machine): %v", s.Name, t.VersionFull, err)
	}
	b := &bundled{packages: map[string]string{}, set: s}
	for _, c := range choices {
		b.packages["wheels/"+c.Name.File] = c.Path
	}
	b.set.Python = pythonOf(s)
	return b, nil
}
