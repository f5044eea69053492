package install

import (
	"context"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// An ecosystem is what differs between kinds of package sets: Python's
// wheels in a virtual environment (python.go, over internal/wheel) and
// Node's npm tarballs in node_modules (node.go, over internal/npm). It
// reads the lock, probes the runtime, chooses and opens the packages, and
// lays them out, describing them in a receipt. Everything else is shared:
// the root and its lock, staging every set before any switch, the
// receipt's seal, verify, the release cache, the commit and rollback.
type ecosystem interface {
	// check reads the set's lock, probes its runtime and chooses and opens
	// its packages, writing nothing. It returns the set with its
	// ecosystem's defaults filled in.
	check(ctx context.Context, set Set, opts Options) (layout, Set, error)
}

// layout is a set its ecosystem checked, ready to lay out.
type layout interface {
	// lockSHA256 is the lock file's sha256 (hex).
	lockSHA256() string
	// runtimePath is the runtime as the receipt records it
	// (Interpreter.Path): a repeated install of the current release is a
	// no-op only with the same lock and runtime.
	runtimePath() string
	// cacheKey is the release's key in the release cache.
	cacheKey(set Set, rootDir, id string, opts Options) CacheKey
	// summary says what is installed, for the log.
	summary() string
	// install lays the set out into the release directory dir, which
	// exists and is empty, and returns the receipt describing it (not yet
	// sealed) and what else the result reports. On error dir holds a
	// partial layout, which the caller removes.
	install(ctx context.Context, set Set, id, dir string, opts Options) (*receipt.Receipt, laidOut, error)
	// close releases what check opened.
	close()
}

// laidOut is what an install reports beside its receipt, kept out of the
// release: notes worth reporting (sources without bytecode) and the
// bytecode counts (nil when none was written).
type laidOut struct {
	notes    []string
	bytecode *Bytecode
	npmStore *NpmStore
	// known are the regular files whose size and mode the layout knows
	// from a stat (receipt.SealKnown); nil: the seal stats every file.
	known map[string]receipt.Known
}

// ecosystems by set kind.
var ecosystems = map[string]ecosystem{
	plan.KindPython: pythonEcosystem{},
	plan.KindNode:   nodeEcosystem{},
}
