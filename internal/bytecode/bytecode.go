// Package bytecode compiles installed Python sources to .pyc files with a
// pool of interpreter processes, fed file by file while an install is still
// extracting, so compiling overlaps extraction and uses every core.
//
// The .pyc files use unchecked-hash invalidation (PEP 552): their bytes
// depend only on the source and the interpreter, so a tree compiled twice is
// identical, and the interpreter never re-stats the sources.
package bytecode

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pipbake/packer-plugin-pipbake/internal/childproc"
)

//go:embed worker.py
var workerScript string

// Job is one source file to compile.
type Job struct {
	// Source is the file on disk now; Display is the path tracebacks show
	// (its final location, when the tree is built elsewhere and moved).
	Source, Display string
	// Done is called, on a pool goroutine, with the outcome.
	Done func(Result)
}

// Result is the outcome of one Job.
type Result struct {
	Source string
	// PYC is the written file, with its sha256 and size.
	PYC    string
	SHA256 []byte
	Size   int64
	// Err is set when the source does not compile (a syntax error for this
	// Python, say). pip skips such files too; the install goes on.
	Err error
}

// Pool is a set of running compiler processes.
//
// The workers must not outlive the process that runs the pool: killed
// mid-install, it leaves a release nobody will finish, and a worker that
// went on through the requests queued to it would write bytecode into it
// for seconds. On Linux each worker gets a parent-death signal (SIGKILL),
// and is started from a goroutine locked to its OS thread (a
// childproc.Thread) that stays locked until every worker has been waited
// for: the kernel sends that signal when the thread that forked the child
// exits, so the thread must live as long as the workers. Elsewhere the
// worker checks before each file that its parent is still the one that
// started it, and exits otherwise.
type Pool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []Job
	closed  bool
	wg      sync.WaitGroup
	errOnce sync.Once
	err     error
	procs   []*exec.Cmd
	thread  *childproc.Thread
}

// Start runs workers processes of python (at least one). Cancelling ctx
// kills them.
func Start(ctx context.Context, python string, workers int, env []string) (*Pool, error) {
	if workers < 1 {
		workers = 1
	}
	p := &Pool{thread: childproc.NewThread()}
	p.cond = sync.NewCond(&p.mu)
	var err error
	p.thread.Do(func() { err = p.start(ctx, python, workers, env) })
	if err != nil {
		p.kill()
		for _, c := range p.procs {
			_ = c.Wait()
		}
		p.thread.Release()
		return nil, err
	}
	go func() { // the thread is released once every worker is reaped
		p.wg.Wait()
		p.thread.Release()
	}()
	return p, nil
}

// start starts the workers; it runs on p.thread.
func (p *Pool) start(ctx context.Context, python string, workers int, env []string) error {
	type started struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stdout io.ReadCloser
		stderr *strings.Builder
	}
	var all []started
	for i := 0; i < workers; i++ {
		cmd := exec.CommandContext(ctx, python, "-I", "-S", "-B", "-c", workerScript)
		cmd.Env = env
		cmd.SysProcAttr = childproc.Worker()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return fmt.Errorf("start bytecode compiler: %w", err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return fmt.Errorf("start bytecode compiler: %w", err)
		}
		stderr := &strings.Builder{}
		cmd.Stderr = &limitWriter{w: stderr, n: 4096}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start bytecode compiler %q: %w", python, err)
		}
		p.procs = append(p.procs, cmd)
		all = append(all, started{cmd, stdin, stdout, stderr})
	}
	for _, s := range all {
		p.wg.Add(1)
		go p.run(s.cmd, s.stdin, bufio.NewReader(s.stdout), s.stderr)
	}
	return nil
}

// Submit queues a job; it never blocks on compilation.
func (p *Pool) Submit(j Job) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		panic("bytecode: Submit after Wait")
	}
	p.queue = append(p.queue, j)
	p.mu.Unlock()
	p.cond.Signal()
}

// Wait lets the workers finish the queue, stops them and reports a failure
// of the pool itself (a worker that died); per-file compile errors are
// reported through Job.Done.
func (p *Pool) Wait() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
	return p.err
}

func (p *Pool) next() (Job, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) == 0 && !p.closed {
		p.cond.Wait()
	}
	if len(p.queue) == 0 {
		return Job{}, false
	}
	j := p.queue[0]
	p.queue[0] = Job{}
	p.queue = p.queue[1:]
	return j, true
}

func (p *Pool) fail(err error) {
	p.errOnce.Do(func() { p.err = err })
}

// depth bounds the requests queued to each worker beyond the one being
// answered: it never waits for this side between files (thousands of
// small files make that round trip add up), and it answers what it has
// read in one write.
const depth = 8

func (p *Pool) run(cmd *exec.Cmd, stdin io.WriteCloser, stdout *bufio.Reader, stderr *strings.Builder) {
	defer p.wg.Done()
	inflight := make(chan Job, depth)
	var dead atomic.Bool
	var readErr error // set before answered closes
	answered := make(chan struct{})
	go func() { // answers come back in request order
		defer close(answered)
		for j := range inflight {
			if dead.Load() {
				j.Done(Result{Source: j.Source, Err: errors.New("bytecode compiler exited")})
				continue
			}
			res, err := readAnswer(stdout, j)
			if err != nil {
				dead.Store(true)
				readErr = err
				res = Result{Source: j.Source, Err: err}
			}
			j.Done(res)
		}
	}()
	writeFailed := false
	for {
		j, ok := p.next()
		if !ok {
			break
		}
		if writeFailed || dead.Load() {
			j.Done(Result{Source: j.Source, Err: errors.New("bytecode compiler exited")})
			continue
		}
		if strings.ContainsAny(j.Source+j.Display, "\t\n") {
			j.Done(Result{Source: j.Source, Err: fmt.Errorf("path %q has a tab or newline", j.Source)})
			continue
		}
		if _, err := io.WriteString(stdin, j.Source+"\t"+j.Display+"\n"); err != nil {
			// The worker is gone: reading j's answer meets its end and
			// reports the failure.
			writeFailed = true
		}
		inflight <- j
	}
	close(inflight)
	<-answered
	stdin.Close()
	// After Wait the worker's stderr is all copied: its traceback says why.
	werr := cmd.Wait()
	switch {
	case readErr != nil:
		p.fail(fmt.Errorf("bytecode compiler %q failed: %w: %s", cmd.Path, readErr, strings.TrimSpace(stderr.String())))
	case werr != nil:
		p.fail(fmt.Errorf("bytecode compiler %q: %w: %s", cmd.Path, werr, strings.TrimSpace(stderr.String())))
	}
}

// readAnswer reads the worker's answer to j.
func readAnswer(stdout *bufio.Reader, j Job) (Result, error) {
	line, err := stdout.ReadString('\n')
	if err != nil {
		return Result{}, err
	}
	fields := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
	switch {
	case fields[0] == "ok" && len(fields) == 4:
		sum, err := hex.DecodeString(fields[2])
		if err != nil {
			return Result{}, fmt.Errorf("bad answer %q", line)
		}
		size, err := strconv.ParseInt(fields[3], 10, 64)
		if err != nil {
			return Result{}, fmt.Errorf("bad answer %q", line)
		}
		return Result{Source: j.Source, PYC: fields[1], SHA256: sum, Size: size}, nil
	case fields[0] == "err" && len(fields) == 2:
		return Result{Source: j.Source, Err: errors.New(fields[1])}, nil
	}
	return Result{}, fmt.Errorf("bad answer %q", line)
}

func (p *Pool) kill() {
	for _, c := range p.procs {
		if c.Process != nil {
			_ = c.Process.Kill()
		}
	}
}

type limitWriter struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

func (l *limitWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		k := min(len(b), l.n)
		l.n -= k
		_, _ = l.w.Write(b[:k])
	}
	return len(b), nil
}

// DefaultWorkers is the pool size for this machine: one per CPU.
func DefaultWorkers() int {
	n := runtime.NumCPU()
	if s := os.Getenv("PIPBAKE_COMPILE_WORKERS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	return n
}
