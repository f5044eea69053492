package bake

import (
	"context"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
)

// An ecosystem is what a bake does differently for a kind of set
// (python.go, node.go): which runtime of the machine the set needs and
// how it is probed, and which of the Packer host's files are the set's
// packages for that runtime. The rest (detecting the machine, the bundle,
// running the agent, bringing the receipts back) is shared.
type ecosystem interface {
	// runtime is the program the set names on the machine.
	runtime(s plan.Set) string
	// probe is the command that describes the runtime; decode reads its
	// output.
	probe(runtime string) string
	decode(out []byte, runtime string) (probed, error)
	// bundle chooses (or fetches into dir) the set's packages for rt. It
	// returns them by bundle name, the set's own files (placed beside its
	// lock on the machine) by base name, and the set as the machine's plan
	// has it, its files' paths but the lock's relative to the lock.
	bundle(ctx context.Context, opts Options, s plan.Set, rt probed, dir string) (*bundled, error)
}

// probed is a runtime probed on the machine.
type probed interface {
	// describe is a line for the log: "Python 3.11.7 at python3 (linux-x86_64)".
	describe() string
	// version is the runtime's version as a preview shows it: "3.11.7"
	// for Python, "node 20.19.2" for node.
	version() string
}

// bundled is what a set adds to the bundle.
type bundled struct {
	// packages by bundle name ("wheels/x.whl", "npm/x@1.0.0.tgz"): the
	// agent reads them inside the bundle, they are not unpacked.
	packages map[string]string
	// own are the set's other files by base name, unpacked beside its lock.
	own map[string]string
	// set is the set for the machine's plan.
	set plan.Set
}

// inBundle are the bundle folders the agent reads in place.
var inBundle = []string{"wheels/", "npm/"}

var ecosystems = map[string]ecosystem{plan.KindPython: pythonEcosystem{}, plan.KindNode: nodeEcosystem{}}

func ecosystemOf(s plan.Set) ecosystem { return ecosystems[s.KindOrDefault()] }

// runtimeKey names the runtime a set needs: its kind's and program.
func runtimeKey(s plan.Set) string {
	return s.KindOrDefault() + " " + ecosystemOf(s).runtime(s)
}
