package install

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pipbake/packer-plugin-pipbake/internal/childproc"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/venv"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheel"
)

// installPip installs the same wheels with the target's own pip, run by the
// new environment's interpreter (from ensurepip's bundled wheel, so the
// environment itself gets no pip): --no-index --no-deps --require-hashes.
func (p *pythonLayout) installPip(ctx context.Context, env *venv.Env, opts Options) (*installation, error) {
	tg, wheels, digests, compile := p.tg, p.wheels, p.digests, p.set.Compile
	// pipbake's own checks first: pip would let an entry point replace
	// bin/python, say.
	logWarnings(wheels, opts)
	wopts := installOptions(tg, env)
	if err := eachWheel(len(wheels), func(k int) error {
		_, err := wheels[k].Prepare(wopts)
		return err
	}); err != nil {
		return nil, err
	}
	pipWheel := ""
	for _, w := range tg.BundledWheels {
		if strings.HasPrefix(filepath.Base(w), "pip-") {
			pipWheel = w
		}
	}
	// pip's links, requirements and temporary files (its TMPDIR) inside
	// the release being built, not in the machine's TMPDIR: an agent killed
	// while pip runs leaves them in an incomplete release, which the next
	// install into the root removes (release.Root Prepare), rather than in
	// a folder nobody removes.
	tmp, err := os.MkdirTemp(env.Dir, ".pipbake-pip-")
	if err != nil {
		return nil, fmt.Errorf("pip's scratch folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	pipTmp := filepath.Join(tmp, "tmp")
	if err := os.Mkdir(pipTmp, 0o700); err != nil {
		return nil, fmt.Errorf("pip's scratch folder: %w", err)
	}
	var req bytes.Buffer
	links := tmp + "/wheels"
	if err := os.Mkdir(links, 0o755); err != nil {
		return nil, err
	}
	for i, w := range wheels {
		// only the chosen files, so pip has exactly one candidate each
		if err := linkWheel(w, filepath.Join(links, w.Name.File)); err != nil {
			return nil, err
		}
		fmt.Fprintf(&req, "%s==%s --hash=sha256:%s\n", w.Metadata.Name, w.Name.Version, digests[i])
	}
	reqFile := filepath.Join(tmp, "requirements.txt")
	if err := os.WriteFile(reqFile, req.Bytes(), 0o644); err != nil {
		return nil, err
	}
	// --no-cache-dir: nothing in the user's pip cache (an image's /root).
	args := []string{"install", "--isolated", "--no-index", "--no-deps", "--require-hashes", "--only-binary", ":all:",
		"--find-links", links, "--disable-pip-version-check", "--no-warn-script-location", "--no-cache-dir", "-r", reqFile}
	if !compile {
		args = append(args, "--no-compile")
	}
	var cmd *exec.Cmd
	python := filepath.Join(env.Scheme.Scripts, "python")
	if pipWheel != "" {
		cmd = exec.CommandContext(ctx, python, append([]string{pipWheel + "/pip"}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, tg.Executable, append([]string{"-m", "pip", "--python", python}, args...)...)
	}
	cmd.Env = append(target.CleanEnv(os.Environ()), "TMPDIR="+pipTmp)
	var out bytes.Buffer
	var w io.Writer = &out
	if opts.Log != nil {
		w = io.MultiWriter(&out, opts.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := runDying(cmd); err != nil {
		tail := out.String()
		if len(tail) > 2000 {
			tail = "..." + tail[len(tail)-2000:]
		}
		return nil, fmt.Errorf("pip install into %s: %w\n%s", env.Dir, err, tail)
	}
	var dists []*installedDist
	for _, w := range wheels {
		lib := env.Scheme.Platlib
		if w.RootIsPurelib {
			lib = env.Scheme.Purelib
		}
		distInfo := filepath.Join(lib, w.DistInfo)
		n, err := countRecord(filepath.Join(distInfo, "RECORD"))
		if err != nil {
			return nil, fmt.Errorf("pip installed %s but: %w", w.Name.File, err)
		}
		rel, _ := filepath.Rel(env.Dir, distInfo)
		dists = append(dists, &installedDist{w: w, name: w.Metadata.Name, version: w.Metadata.Version, distInfo: filepath.ToSlash(rel), files: n})
	}
	return &installation{dists: dists}, nil
}

func countRecord(p string) (int, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", p, err)
	}
	return len(rows), nil
}

// linkWheel puts w at dest for pip: a link to its file, or a copy of its
// bytes when it lies inside an archive.
func linkWheel(w *wheel.Wheel, dest string) error {
	if w.Path != "" {
		return os.Symlink(w.Path, dest)
	}
	if err := createFrom(dest, w); err != nil {
		return fmt.Errorf("copy %s for pip: %w", w.Name.File, err)
	}
	return nil
}

// runDying runs cmd so that it dies with this process: killed (SIGKILL)
// by the kernel the moment this process dies, on Linux, from a thread
// that stays locked until cmd has exited (see internal/childproc). A
// killed agent leaves no pip installing into a release nobody owns.
func runDying(cmd *exec.Cmd) error {
	cmd.SysProcAttr = childproc.Worker()
	th := childproc.NewThread()
	defer th.Release() // after Wait
	var err error
	th.Do(func() { err = cmd.Start() })
	if err != nil {
		return err
	}
	return cmd.Wait()
}
