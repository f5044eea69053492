package corpus

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

//go:embed closure.py
var closureScript string

// Closure returns the wheels of the given distributions and everything they
// depend on, as installed in the source interpreter: that interpreter
// evaluates the requirements' markers and extras (with pip's vendored
// packaging), so the answer is the one pip would give there. Roots may name
// extras ("requests[socks]"). The result is sorted by normalized name.
func (s *Set) Closure(ctx context.Context, roots ...string) ([]Wheel, error) {
	what := "closure of " + strings.Join(roots, ", ")
	if len(roots) == 0 {
		return nil, errors.New("closure: no distributions given")
	}
	arg, _ := json.Marshal(roots)
	out, err := Output(ctx, s.Python, "-I", "-c", closureScript, string(arg))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var res struct {
		Dists []struct {
			Name, Version string
		}
		Problems []string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("%s: decode %q: %w", what, out, err)
	}
	if len(res.Problems) > 0 {
		return nil, fmt.Errorf("%s: %s", what, strings.Join(res.Problems, "; "))
	}
	var wheels []Wheel
	for _, d := range res.Dists {
		w, ok := s.Get(d.Name)
		if !ok {
			return nil, fmt.Errorf("%s: %s %s has no wheel in the corpus", what, d.Name, d.Version)
		}
		if w.Version != d.Version {
			return nil, fmt.Errorf("%s: %s is installed at %s but the corpus has %s", what, d.Name, d.Version, w.Version)
		}
		wheels = append(wheels, w)
	}
	sort.Slice(wheels, func(i, j int) bool { return pyname.Normalize(wheels[i].Name) < pyname.Normalize(wheels[j].Name) })
	return wheels, nil
}
