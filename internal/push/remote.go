package push

import (
	"context"
	"io"
	"strings"
	"sync"

	"github.com/pipbake/packer-plugin-pipbake/internal/bake"
	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
	"github.com/pipbake/packer-plugin-pipbake/internal/sshremote"
)

// sudoStdin is what marks a command that reads the sudo password.
const sudoStdin = "sudo -S "

// agentCommand renders how the agent runs (bake.Options.Command): as the
// SSH user, or through sudo, which reads the password from standard input
// (never from the command line) when one is set.
func (o *Options) agentCommand(agentPath, args string) (string, error) {
	a := shell.Quote(agentPath)
	run := a + " " + args
	switch {
	case o.Sudo && o.SudoPassword != "":
		run = sudoStdin + "-p '' -- " + run
	case o.Sudo:
		run = "sudo -n -- " + run
	}
	return "chmod +x " + a + " && " + run, nil
}

// remote is the host's connection as bake.Remote: commands that run sudo
// with a password get it on standard input.
func (h *host) remote() bake.Remote {
	if h.opts.Sudo && h.opts.SudoPassword != "" {
		return &sudoRemote{Client: h.client, password: h.opts.SudoPassword}
	}
	return h.client
}

type sudoRemote struct {
	*sshremote.Client
	password string
}

func (s *sudoRemote) Run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	// a line for every sudo that may ask, before the command's own input
	// (sudo reads its password a byte at a time, up to the newline). A
	// sudo that does not ask leaves its line to the agent, whose session
	// then does not arm (the line is not the session's hello): the install
	// still runs, without the cancel-before-switch guarantee.
	in := stdin
	if n := strings.Count(command, sudoStdin); n > 0 {
		in = strings.NewReader(strings.Repeat(s.password+"\n", n))
		if stdin != nil {
			in = io.MultiReader(in, stdin)
		}
	}
	return s.Client.Run(ctx, command, in, stdout, stderr)
}

// prefixWriter writes whole lines to w, each with a prefix; lines of all
// hosts go through one lock so they do not interleave.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mu     sync.Mutex
	part   []byte
}

var outputMu sync.Mutex

func newPrefixWriter(w io.Writer, prefix string) *prefixWriter {
	return &prefixWriter{w: w, prefix: prefix}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if p.w == nil {
		return len(b), nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.part = append(p.part, b...)
	for {
		i := strings.IndexByte(string(p.part), '\n')
		if i < 0 {
			break
		}
		p.emit(strings.TrimRight(string(p.part[:i]), "\r"))
		p.part = p.part[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) emit(line string) {
	outputMu.Lock()
	io.WriteString(p.w, p.prefix+line+"\n")
	outputMu.Unlock()
}

// Flush writes a last line without a newline.
func (p *prefixWriter) Flush() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.part) > 0 {
		p.emit(string(p.part))
		p.part = nil
	}
}
