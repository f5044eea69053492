package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/activate"
	"github.com/pipbake/packer-plugin-pipbake/internal/agent"
	"github.com/pipbake/packer-plugin-pipbake/internal/bundle"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
)

// Switched is a rollback's status for a host switched back.
const Switched = "switched"

// exitUnpack is the status of a failed unpack of the agent's bundle.
const exitUnpack = 97

// runAgent uploads the agent and the plan's sets as one bundle into a
// staging folder of its own on the host, runs the command build makes
// (given the staging folder), and removes the folder.
func (h *host) runAgent(ctx context.Context, build func(staging string) (string, error), stdout io.Writer) (code int, err error) {
	staging := stagingDir("agent")
	var out, stderr bytes.Buffer
	code, err = h.client.Run(ctx, "uname -s -m && mkdir -p "+shell.Quote(staging), nil, &out, &stderr)
	if err != nil {
		return -1, fmt.Errorf("detect the machine: %w", err)
	}
	if code != 0 {
		return -1, fmt.Errorf("detect the machine and create %s: exit status %d: %s", staging, code, strings.TrimSpace(stderr.String()))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		h.client.Run(cctx, "rm -rf "+shell.Quote(staging), nil, nil, nil)
	}()
	line, _, _ := strings.Cut(out.String(), "\n")
	p, err := agent.ParseUname(strings.TrimSpace(line))
	if err != nil {
		return -1, err
	}
	bin, err := agent.For(p, h.opts.AgentPath)
	if err != nil {
		return -1, err
	}
	b := &bundle.Bundle{ModTime: time.Unix(0, 0)}
	if bin.Path != "" {
		if err := b.AddFile("pipbake", bin.Path, 0o755); err != nil {
			return -1, err
		}
	} else {
		b.AddBytes("pipbake", bin.Data, 0o755)
	}
	pj, err := (&plan.Plan{Sets: h.opts.Sets}).JSON()
	if err != nil {
		return -1, err
	}
	b.AddBytes("plan.json", pj, 0o644)
	rd, size, err := b.Reader()
	if err != nil {
		return -1, err
	}
	err = h.client.Upload(ctx, staging+"/bundle.tar", rd, size)
	rd.Close()
	if err != nil {
		return -1, fmt.Errorf("upload the agent: %w", err)
	}
	cmd, err := build(staging)
	if err != nil {
		return -1, err
	}
	script := "tar -xf " + shell.Quote(staging+"/bundle.tar") + " -C " + shell.Quote(staging) + " || exit " + strconv.Itoa(exitUnpack) + "; " + cmd
	errTail := &lastLines{max: 20}
	code, err = h.remote().Run(ctx, "sh -c "+shell.Quote(script), nil, stdout, io.MultiWriter(h.log, errTail))
	if err != nil {
		return -1, err
	}
	if code == exitUnpack {
		return -1, fmt.Errorf("unpack the agent in %s failed: %s", staging, errTail)
	}
	if code != 0 {
		h.lastErr = errTail.String()
	}
	return code, nil
}

// Rollback switches every set on every host back to the release before
// its current one (or to release to), all sets of a host or none, and
// restarts their services (health checks run and are reported).
func Rollback(ctx context.Context, opts Options, to string) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	rep := &Report{}
	rep.Hosts = fleet(ctx, &opts, rep, func(ctx context.Context, name string) (res HostResult) {
		fail := func(err error) HostResult {
			res.Status, res.Error = Failed, err.Error()
			return res
		}
		h, err := dialHost(ctx, &opts, name)
		if err != nil {
			return fail(err)
		}
		defer h.close()
		var out bytes.Buffer
		code, err := h.runAgent(ctx, func(staging string) (string, error) {
			args := []string{"activate", "-f", staging + "/plan.json", "--rollback", "--json"}
			if to != "" {
				args = append(args, "--to", to)
			}
			return opts.agentCommand(staging+"/pipbake", shell.Join(args...))
		}, &out)
		if err != nil {
			return fail(err)
		}
		var ar activate.Report
		if jerr := json.Unmarshal(out.Bytes(), &ar); jerr != nil {
			return fail(fmt.Errorf("roll back: exit status %d: %s", code, h.lastErr))
		}
		res.Activation = &ar
		changed := false
		for _, s := range ar.Sets {
			res.Sets = append(res.Sets, SetState{Set: s.Set, Before: s.Before, Current: s.Current})
			changed = changed || s.Changed
		}
		switch {
		case code == activate.ExitRestartError:
			res.Status, res.Error = Failed, "switched back, but: "+ar.Problem
		case code != 0:
			res.Status, res.Error = Failed, fmt.Sprintf("roll back: exit status %d: %s", code, ar.Problem)
		case changed:
			res.Status = Switched
		default:
			res.Status = Unchanged
		}
		return res
	})
	return rep, failure(rep, "rollback")
}

// Releases lists every set's releases on every host.
func Releases(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	rep := &Report{}
	rep.Hosts = fleet(ctx, &opts, rep, func(ctx context.Context, name string) (res HostResult) {
		fail := func(err error) HostResult {
			res.Status, res.Error = Failed, err.Error()
			return res
		}
		h, err := dialHost(ctx, &opts, name)
		if err != nil {
			return fail(err)
		}
		defer h.close()
		var out bytes.Buffer
		code, err := h.runAgent(ctx, func(staging string) (string, error) {
			var cmds []string
			for _, s := range opts.Sets {
				c, err := opts.agentCommand(staging+"/pipbake", shell.Join("releases", "--root", s.Root, "--json"))
				if err != nil {
					return "", err
				}
				cmds = append(cmds, "("+c+")")
			}
			return strings.Join(cmds, " && "), nil
		}, &out)
		if err != nil {
			return fail(err)
		}
		if code != 0 {
			return fail(fmt.Errorf("list releases: exit status %d: %s", code, h.lastErr))
		}
		dec := json.NewDecoder(&out)
		for _, s := range opts.Sets {
			var list []ReleaseInfo
			if err := dec.Decode(&list); err != nil {
				return fail(fmt.Errorf("set %q: read the release list: %w", s.Name, err))
			}
			st := SetState{Set: s.Name, Releases: list}
			for _, r := range list {
				if r.Current {
					st.Current, st.Before = r.ID, r.ID
				}
			}
			res.Sets = append(res.Sets, st)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return fail(errors.New("read the release lists: unexpected output after them"))
		}
		res.Status = Listed
		return res
	})
	return rep, failure(rep, "releases")
}

// lastLines keeps the last lines written, for messages.
type lastLines struct {
	max   int
	lines []string
	part  string
}

func (t *lastLines) Write(p []byte) (int, error) {
	parts := strings.Split(t.part+string(p), "\n")
	t.part = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		if l = strings.TrimRight(l, "\r"); l != "" {
			t.lines = append(t.lines, l)
		}
		if len(t.lines) > t.max {
			t.lines = t.lines[1:]
		}
	}
	return len(p), nil
}

func (t *lastLines) String() string {
	lines := t.lines
	if t.part != "" {
		lines = append(lines, t.part)
	}
	return strings.Join(lines, "\n")
}
