package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
)

// A Step is work for one staged set that must be done before any set's
// current is switched: enabling its service, say. It returns how to undo
// it (nil: nothing to undo), called when a later step, a prune or a
// switch fails.
type Step func(res *Result) (undo func() error, err error)

// CommitAll makes every staged set current, or none. Everything that can
// fail is done first, set by set, each undoable: the receipt copies to
// Options.ReceiptsDir, steps[i] for set i, and setting aside the releases
// each root's Keep prunes (the current release excepted: it is pruned
// after the switch). Then every set's current is switched. A failure
// anywhere undoes what was done, in reverse (current links switched back,
// releases set aside put back, steps undone, receipt copies restored),
// removes the staged releases and returns the error. Once every set is
// switched, the releases set aside are deleted; a failure there is only
// logged. The locks StageAll took are released.
func CommitAll(staged []*Staged, steps []Step) (results []*Result, err error) {
	for _, st := range staged {
		if st.done {
			return nil, errors.New("install: release already committed or aborted")
		}
	}
	defer func() {
		for _, st := range staged {
			st.done = true
			st.unlock()
		}
	}()
	c := &commit{staged: staged, start: time.Now(),
		retired: make([][]string, len(staged)), later: make([][]string, len(staged))}
	for _, phase := range []func() error{
		c.copyReceipts,
		func() error { return c.runSteps(steps) },
		c.retire,
		c.switchAll, // last
	} {
		if err := phase(); err != nil {
			return nil, c.undo(err)
		}
	}
	return c.prune(), nil
}

// commit is one CommitAll: what each phase did, and how to undo it, in
// the order it was done.
type commit struct {
	staged []*Staged
	start  time.Time
	undos  []func() error
	// retired[i] are set i's releases set aside, removed after the
	// switch; later[i] its current one, set aside and removed only then.
	retired, later [][]string
}

// undo undoes what was done, in reverse, and removes the staged
// releases; err is the failure that stopped the commit.
func (c *commit) undo(err error) error {
	var failed []error
	for i := len(c.undos) - 1; i >= 0; i-- {
		if uerr := c.undos[i](); uerr != nil {
			failed = append(failed, uerr)
		}
	}
	for _, st := range c.staged {
		if aerr := st.abort(); aerr != nil {
			failed = append(failed, fmt.Errorf("remove the staged release %s: %w", st.result.Path, aerr))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w (and undoing: %v)", err, errors.Join(failed...))
	}
	return err
}

// copyReceipts copies each set's receipt to its Options.ReceiptsDir.
func (c *commit) copyReceipts() error {
	for _, st := range c.staged {
		if dir := st.opts.ReceiptsDir; dir != "" {
			undo, err := copyReceipt(dir, st.set.Name, st.result.Path)
			if err != nil {
				return fmt.Errorf("set %q: %w", st.set.Name, err)
			}
			c.undos = append(c.undos, undo)
		}
	}
	return nil
}

// runSteps takes steps[i] for set i.
func (c *commit) runSteps(steps []Step) error {
	for i, st := range c.staged {
		if i >= len(steps) || steps[i] == nil {
			continue
		}
		undo, err := steps[i](st.result)
		if err != nil {
			return err
		}
		if undo != nil {
			c.undos = append(c.undos, undo)
		}
	}
	return nil
}

// retire sets aside the releases each root's Keep prunes, but for the
// current one: it is pruned once the switch is done.
func (c *commit) retire() error {
	for i, st := range c.staged {
		if st.result.Skipped {
			continue
		}
		ids, err := st.root.PruneList(st.set.Keep, st.id)
		if err != nil {
			return fmt.Errorf("set %q: %w", st.set.Name, err)
		}
		cur, err := st.root.Current()
		if err != nil {
			return fmt.Errorf("set %q: %w", st.set.Name, err)
		}
		for _, id := range ids {
			if id == cur {
				c.later[i] = append(c.later[i], id)
				continue
			}
			if err := st.root.Retire(id); err != nil {
				return fmt.Errorf("set %q: %w", st.set.Name, err)
			}
			root := st.root
			c.undos = append(c.undos, func() error { return root.Unretire(id) })
			c.retired[i] = append(c.retired[i], id)
		}
	}
	return nil
}

// switchAll switches every set's current to its new release.
func (c *commit) switchAll() error {
	for _, st := range c.staged {
		if st.result.Skipped {
			continue
		}
		prev, err := st.root.Current()
		if err != nil {
			return fmt.Errorf("set %q: %w", st.set.Name, err)
		}
		root := st.root
		c.undos = append(c.undos, func() error {
			if cur, err := root.Current(); err == nil && cur == prev {
				return nil
			}
			return root.Restore(prev)
		})
		if err := st.root.Switch(st.id); err != nil {
			return fmt.Errorf("set %q: %w", st.set.Name, err)
		}
	}
	return nil
}

// prune, once every set is current, removes the releases set aside (a
// failure is only logged: the install stands) and returns the results.
func (c *commit) prune() []*Result {
	var results []*Result
	for i, st := range c.staged {
		res := st.result
		results = append(results, res)
		if res.Skipped {
			continue
		}
		st.opts.logf("pipbake: %s: %s is current (%d files)", st.set.Name, st.id, res.Receipt.Files)
		res.Pruned = []string{}
		for _, id := range c.retired[i] {
			if err := st.root.RemoveRetired(id); err != nil {
				st.opts.logf("pipbake: %s: warning: %v (the next install removes it)", st.set.Name, err)
				continue
			}
			res.Pruned = append(res.Pruned, id)
		}
		for _, id := range c.later[i] {
			err := st.root.Retire(id)
			if err == nil {
				err = st.root.RemoveRetired(id)
			}
			if err != nil {
				st.opts.logf("pipbake: %s: warning: %v", st.set.Name, err)
				continue
			}
			res.Pruned = append(res.Pruned, id)
		}
		res.Duration += time.Since(c.start)
	}
	return results
}

// copyReceipt copies a release's receipt and SBOM to dir/<set>.json and
// dir/<set>.cdx.json. It returns how to put back what was there.
func copyReceipt(dir, set, releaseDir string) (_ func() error, err error) {
	rmdirs, err := mkdirAll(dir)
	if err != nil {
		return nil, fmt.Errorf("copy receipt to %s: %w", dir, err)
	}
	var restores []func() error
	undo := func() error {
		var errs []error
		for i := len(restores) - 1; i >= 0; i-- {
			errs = append(errs, restores[i]())
		}
		rmdirs()
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			_ = undo()
		}
	}()
	for _, name := range []string{receipt.FileName, receipt.SBOMName} {
		data, err := os.ReadFile(filepath.Join(releaseDir, name))
		if err != nil {
			return nil, fmt.Errorf("copy receipt: %w", err)
		}
		dest := set + ".json"
		if name == receipt.SBOMName {
			dest = set + ".cdx.json"
		}
		old, err := os.ReadFile(filepath.Join(dir, dest))
		switch {
		case err == nil:
			restores = append(restores, func() error { return receipt.WriteFile(dir, dest, old) })
		case errors.Is(err, fs.ErrNotExist):
			restores = append(restores, func() error {
				if err := os.Remove(filepath.Join(dir, dest)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				return nil
			})
		default:
			return nil, fmt.Errorf("copy receipt: %w", err)
		}
		if err := receipt.WriteFile(dir, dest, data); err != nil {
			return nil, fmt.Errorf("copy receipt to %s: %w", dir, err)
		}
	}
	return undo, nil
}

// mkdirAll is os.MkdirAll, returning how to remove the folders it made
// (those still empty).
func mkdirAll(dir string) (rmdirs func(), err error) {
	var made []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || filepath.Dir(p) == p {
			break
		}
		made = append(made, p)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return func() {
		for _, p := range made {
			_ = os.Remove(p)
		}
	}, nil
}
