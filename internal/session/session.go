// Package session is the pipbake agent's session with the Packer host
// that runs it: how the agent notices that the provision is gone, and how
// the host knows, when the build is cancelled, whether `current` was
// switched.
//
// Packer gives a provisioner no time after a cancel (Ctrl-C): the build
// step returns at once and the plugins, with the communicator, are shut
// down. So the agent must stop by itself, and the host must already know
// the answer. The protocol, over the agent's stdin and stdout:
//
//	host → agent  Hello                    first line of stdin
//	agent → host  Armed                    on stdout, once Hello was read
//	agent → host  SwitchRequest            when every set is staged
//	host → agent  Go                       only while the build is not cancelled
//	host → agent  (end of stdin)           the provision ended or was cancelled
//
// Stdin also carries an empty line every KeepAlive. An armed agent
// switches only after reading Go, and cancels its install (removing the
// new release) once its stdin ends: after a cancel, the host knows that
// an agent which did not get Go never switches, and one that got it was
// switching.
//
// The rule is safe on every communicator: one that forwards stdin (ssh,
// docker exec -i, the pipbake-oci builder's chroot) delivers Hello; one
// that does not gives the agent an empty or a never-ending stdin without
// Hello, and the agent, never armed, neither cancels on its account nor
// asks to switch (the host then knows it cannot tell, and says so). Run
// by hand, without --session-stdin, the agent does not read its stdin.
package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// The protocol's lines.
const (
	Hello         = "pipbake-session-1"
	Armed         = "pipbake-session-armed"
	SwitchRequest = "pipbake-session-switch?"
	Go            = "pipbake-session-go"
)

// KeepAlive is how often the host's stdin sends an empty line. A
// communicator that runs the command as a local process (the chroot one,
// say) waits, once it has exited, until the copy into its stdin ends;
// that copy only notices the process is gone when it next writes.
const KeepAlive = time.Second

// ErrGone is the cause of the agent's context once the session ended.
var ErrGone = errors.New("the session that started pipbake ended (its stdin closed)")

// Agent is the agent's end of a session.
type Agent struct {
	out io.Writer
	mu  sync.Mutex
	// armed: Hello was read and Armed written; decided: Switch ran
	// unarmed, so the session may no longer arm.
	armed, decided bool
	gotGo          chan struct{}
	goOnce         sync.Once
}

// Watch reads r, the agent's stdin (call Quiet on it first), and writes
// the agent's protocol lines to out (its stdout, a line per Write). When
// the first line of r is Hello, the session is armed: the returned
// context is cancelled with ErrGone as its cause once r ends. Any other
// first line, or an end before a whole line, and r is left alone: the
// context then ends only with ctx or stop.
func Watch(ctx context.Context, r io.Reader, out io.Writer) (*Agent, context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	a := &Agent{out: out, gotGo: make(chan struct{})}
	go func() {
		br := bufio.NewReaderSize(r, 64)
		line, err := br.ReadSlice('\n')
		if err != nil || strings.TrimRight(string(line), "\r\n") != Hello {
			return
		}
		a.mu.Lock()
		if a.decided {
			a.mu.Unlock()
			return
		}
		a.armed = true
		_, _ = io.WriteString(a.out, Armed+"\n")
		a.mu.Unlock()
		sc := bufio.NewScanner(br)
		for sc.Scan() {
			if strings.TrimRight(sc.Text(), "\r") == Go {
				a.goOnce.Do(func() { close(a.gotGo) })
			}
		}
		cancel(ErrGone)
	}()
	return a, ctx, func() { cancel(context.Canceled) }
}

// Switch returns nil when the agent may switch current now: at once when
// the session is not armed (and then it never arms), after the host's Go
// when it is. It returns the context's cause once ctx ends first.
func (a *Agent) Switch(ctx context.Context) error {
	a.mu.Lock()
	armed := a.armed
	if !armed {
		a.decided = true
	}
	a.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if !armed {
		return nil
	}
	if _, err := io.WriteString(a.out, SwitchRequest+"\n"); err != nil {
		return err
	}
	t := time.NewTimer(GoTimeout)
	defer t.Stop()
	select {
	case <-a.gotGo:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		// Never switch unanswered: the host may be gone with the
		// connection hung rather than closed.
		return fmt.Errorf("no answer from the Packer host to the switch request within %v (does execute_command redirect pipbake's standard output away from it?)", GoTimeout)
	}
}

// GoTimeout bounds how long an armed agent waits for Go.
const GoTimeout = 2 * time.Minute

// Host is the host's end of a session with one agent command.
type Host struct {
	done  <-chan struct{}
	ended chan struct{}
	once  sync.Once
	wake  chan struct{} // a grant is pending

	mu      sync.Mutex
	hello   []byte
	pending []byte // Go, once granted and not yet read
	tick    *time.Ticker
	state   State
	notify  func(State)
}

// State is what the host knows of an agent's switch.
type State int

const (
	// Unarmed: the agent did not say Armed (its stdin is not forwarded,
	// or it had not started): the host cannot tell.
	Unarmed State = iota
	// Waiting: armed, it had not asked to switch, or asked after the
	// cancel: it never switches.
	Waiting
	// Granted: it asked and Go was handed to the communicator: it was
	// switching (unless Go was lost with the connection at that moment).
	Granted
)

// NewHost starts a session for a command run under ctx. notify, when not
// nil, is called (from the goroutine writing the agent's output) when the
// agent arms (Waiting) and when Go is granted (Granted): announced as they
// happen, what a cancel would leave is in the output before any cancel.
func NewHost(ctx context.Context, notify func(State)) *Host {
	if notify == nil {
		notify = func(State) {}
	}
	return &Host{done: ctx.Done(), ended: make(chan struct{}), wake: make(chan struct{}, 1), hello: []byte(Hello + "\n"), notify: notify}
}

// Stdin is the agent's stdin: Hello, then Go when granted and empty lines
// every KeepAlive, until ctx ends or End is called, then EOF.
func (h *Host) Stdin() io.Reader { return hostStdin{h} }

// End ends Stdin; call it once the command has finished.
func (h *Host) End() { h.once.Do(func() { close(h.ended) }) }

// State is what the host knows now.
func (h *Host) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}

type hostStdin struct{ h *Host }

func (s hostStdin) Read(p []byte) (int, error) {
	h := s.h
	if len(p) == 0 {
		return 0, nil
	}
	h.mu.Lock()
	if len(h.hello) > 0 {
		n := copy(p, h.hello)
		h.hello = h.hello[n:]
		h.mu.Unlock()
		return n, nil
	}
	if h.tick == nil {
		h.tick = time.NewTicker(KeepAlive)
	}
	tick := h.tick
	h.mu.Unlock()
	for {
		select {
		case <-h.done:
			tick.Stop()
			return 0, io.EOF
		case <-h.ended:
			tick.Stop()
			return 0, io.EOF
		default:
		}
		h.mu.Lock()
		if len(h.pending) > 0 {
			n := copy(p, h.pending)
			h.pending = h.pending[n:]
			if len(h.pending) == 0 {
				h.state = Granted
			}
			h.mu.Unlock()
			return n, nil
		}
		h.mu.Unlock()
		select {
		case <-h.done:
		case <-h.ended:
		case <-tick.C:
			p[0] = '\n'
			return 1, nil
		case <-h.wake:
		}
	}
}

// grant answers a switch request: Go is queued unless the provision was
// cancelled or ended.
func (h *Host) grant() {
	h.mu.Lock()
	select {
	case <-h.done:
		h.mu.Unlock()
		return
	case <-h.ended:
		h.mu.Unlock()
		return
	default:
	}
	granted := h.state == Waiting && len(h.pending) == 0
	if granted {
		h.pending = []byte(Go + "\n")
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
	if granted {
		h.notify(Granted)
	}
}

func (h *Host) armed() {
	h.mu.Lock()
	armed := h.state == Unarmed
	if armed {
		h.state = Waiting
	}
	h.mu.Unlock()
	if armed {
		h.notify(Waiting)
	}
}

// Stdout wraps the agent's stdout: it handles and drops the protocol's
// lines (and a first line that is the Hello a terminal echoed, with
// ssh_pty) and passes the rest to w. Call Flush at the end.
func (h *Host) Stdout(w io.Writer) *Output { return &Output{h: h, w: w} }

// Output is the agent's stdout through a Host.
type Output struct {
	h     *Host
	w     io.Writer
	part  []byte
	lines int
}

func (o *Output) Write(p []byte) (int, error) {
	o.part = append(o.part, p...)
	for {
		i := indexNL(o.part)
		if i < 0 {
			break
		}
		line := o.part[:i+1]
		o.part = o.part[i+1:]
		if err := o.line(line); err != nil {
			return 0, err
		}
	}
	// A partial line that cannot be a protocol line goes on at once.
	if len(o.part) > 0 && !o.maybeProtocol(o.part) {
		if _, err := o.w.Write(o.part); err != nil {
			return 0, err
		}
		o.lines++
		o.part = o.part[:0]
	}
	return len(p), nil
}

func indexNL(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

func (o *Output) maybeProtocol(part []byte) bool {
	s := string(part)
	for _, l := range []string{Hello, Armed, SwitchRequest} {
		if strings.HasPrefix(l+"\r", s) {
			return true
		}
	}
	return false
}

func (o *Output) line(line []byte) error {
	text := strings.TrimRight(string(line), "\r\n")
	first := o.lines == 0
	o.lines++
	switch {
	case text == Armed:
		o.h.armed()
		return nil
	case text == SwitchRequest:
		o.h.grant()
		return nil
	case text == Hello && first:
		return nil
	}
	_, err := o.w.Write(line)
	return err
}

// Flush writes a last partial line.
func (o *Output) Flush() {
	if len(o.part) > 0 {
		_, _ = o.w.Write(o.part)
		o.part = nil
	}
}
