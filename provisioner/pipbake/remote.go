package pipbake

import (
	"context"
	"io"
	"path"
	"strings"
	"sync"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/bake"
	"github.com/pipbake/packer-plugin-pipbake/internal/bundle"
)

// remote adapts a Packer communicator to bake.Remote.
type remote struct{ comm packersdk.Communicator }

var _ bake.Remote = (*remote)(nil)

func (r *remote) Run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := &packersdk.RemoteCmd{Command: command, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if err := r.comm.Start(ctx, cmd); err != nil {
		return 0, err
	}
	done := make(chan int, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case code := <-done:
		return code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (r *remote) Upload(_ context.Context, dst string, rd io.Reader, size int64) error {
	fi := bundle.NewFileInfo(path.Base(dst), size)
	return r.comm.Upload(dst, rd, &fi)
}

func (r *remote) Download(_ context.Context, src string, w io.Writer) error {
	return r.comm.Download(src, w)
}

// uiLines turns written bytes into one UI message per line.
type uiLines struct {
	mu   sync.Mutex
	say  func(string)
	part string
}

func (u *uiLines) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.part + string(p)
	lines := strings.Split(s, "\n")
	u.part = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		u.say(strings.TrimRight(l, "\r"))
	}
	return len(p), nil
}

// Flush emits a final line without a newline.
func (u *uiLines) Flush() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.part != "" {
		u.say(u.part)
		u.part = ""
	}
}
