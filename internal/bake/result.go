package bake

import (
	"encoding/json"
	"path"
)

// resultName is the agent's install result (install --result-file) in
// the staging folder: JSON, what `pipbake install --json` prints. It comes
// back with the receipts and tells the host each set's bytecode counts,
// which the receipt does not hold.
const resultName = "install-result.json"

// resultPath is where the agent writes its install result: in the
// staging folder, when that is an absolute path (files come back by
// absolute path); "" for none.
func resultPath(staging string) string {
	if !path.IsAbs(staging) {
		return ""
	}
	return path.Clean(staging + "/" + resultName)
}

// setResult is what the host reads of one set's install result.
type setResult struct {
	Set      string    `json:"set"`
	Bytecode *Bytecode `json:"bytecode"`
}

// takeResult fills res.Bytecode from the install result bringBack read.
// The sets are current by now: a result that did not come back, or does
// not parse, is only said.
func takeResult(files map[string][]byte, opts Options, res *Result) {
	p := resultPath(opts.Staging)
	if p == "" {
		return
	}
	data, ok := files[p]
	if !ok {
		opts.logf("pipbake: warning: the install's result %s did not come back from the machine: bytecode counts unknown", p)
		return
	}
	var sets []setResult
	if err := json.Unmarshal(data, &sets); err != nil {
		opts.logf("pipbake: warning: the install's result %s from the machine: %v: bytecode counts unknown", p, err)
		return
	}
	for _, s := range sets {
		if _, known := res.Receipts[s.Set]; known && s.Bytecode != nil {
			res.Bytecode[s.Set] = *s.Bytecode
		}
	}
}
