package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWatch(t *testing.T) {
	for _, c := range []struct {
		name  string
		input string
		gone  bool
	}{
		{"hello then end", Hello + "\n", true},
		{"hello through a terminal", Hello + "\r\n\n\n", true},
		{"no stdin forwarded", "", false},
		{"another first line", "password\n" + Hello + "\n", false},
		{"half a hello", Hello[:5], false},
		{"a long line", strings.Repeat("x", 1000) + "\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out syncBuffer
			a, ctx, stop := Watch(context.Background(), strings.NewReader(c.input), &out)
			defer stop()
			// Gone: cancelled, however long a loaded machine takes; not
			// gone: still running a while later.
			wait := 200 * time.Millisecond
			if c.gone {
				wait = 10 * time.Second
			}
			select {
			case <-ctx.Done():
				if !c.gone {
					t.Fatalf("cancelled: %v", context.Cause(ctx))
				}
				if !errors.Is(context.Cause(ctx), ErrGone) {
					t.Fatalf("cause %v", context.Cause(ctx))
				}
				if out.String() != Armed+"\n" {
					t.Errorf("stdout %q", out.String())
				}
				if err := a.Switch(ctx); !errors.Is(err, ErrGone) {
					t.Errorf("Switch after the session ended: %v", err)
				}
			case <-time.After(wait):
				if c.gone {
					t.Fatal("not cancelled when the session ended")
				}
				// never armed: switches at once, and never arms later
				if err := a.Switch(ctx); err != nil {
					t.Fatal(err)
				}
				if out.String() != "" {
					t.Errorf("stdout %q", out.String())
				}
			}
		})
	}
}

// agentOver runs the agent's end over pipes joined to a host's, as a
// communicator that forwards stdin would.
func agentOver(t *testing.T, h *Host, hostOut io.Writer) (*Agent, context.Context) {
	t.Helper()
	inR, inW := io.Pipe()
	go func() { _, err := io.Copy(inW, h.Stdin()); inW.CloseWithError(err) }()
	out := h.Stdout(hostOut)
	a, ctx, stop := Watch(context.Background(), inR, out)
	t.Cleanup(stop)
	return a, ctx
}

func waitState(t *testing.T, h *Host, want State) {
	t.Helper()
	for i := 0; h.State() != want && i < 500; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if h.State() != want {
		t.Fatalf("host state %v, want %v", h.State(), want)
	}
}

func TestSwitchGranted(t *testing.T) {
	prov, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := NewHost(prov, nil)
	defer h.End()
	var shown syncBuffer
	a, ctx := agentOver(t, h, &shown)
	waitState(t, h, Waiting)
	if err := a.Switch(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, Granted)
	if shown.String() != "" {
		t.Errorf("protocol lines reached the output: %q", shown.String())
	}
	// the provision then ends normally: the agent's context is not
	// cancelled before the command is over
	select {
	case <-ctx.Done():
		t.Fatal("cancelled while the provision runs")
	case <-time.After(KeepAlive + 200*time.Millisecond):
	}
}

// TestCancelBeforeSwitch: a cancelled provision never grants, the agent
// learns it and does not switch, and the host knows it did not.
func TestCancelBeforeSwitch(t *testing.T) {
	prov, cancel := context.WithCancel(context.Background())
	h := NewHost(prov, nil)
	defer h.End()
	a, ctx := agentOver(t, h, io.Discard)
	waitState(t, h, Waiting)
	cancel()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the agent did not notice the provision was cancelled")
	}
	if err := a.Switch(ctx); !errors.Is(err, ErrGone) {
		t.Fatalf("Switch: %v", err)
	}
	if h.State() != Waiting {
		t.Fatalf("host state %v", h.State())
	}
}

// TestRequestAfterCancel: a request that comes after the cancel is not
// granted (the grant checks the context under the same lock the reader
// hands Go out with).
func TestRequestAfterCancel(t *testing.T) {
	prov, cancel := context.WithCancel(context.Background())
	h := NewHost(prov, nil)
	defer h.End()
	out := h.Stdout(io.Discard)
	io.WriteString(out, Armed+"\n")
	cancel()
	io.WriteString(out, SwitchRequest+"\n")
	b, err := io.ReadAll(h.Stdin())
	if err != nil || string(b) != Hello+"\n" || h.State() != Waiting {
		t.Fatalf("stdin %q %v, state %v", b, err, h.State())
	}
}

func TestOutputFilter(t *testing.T) {
	for _, c := range []struct {
		writes []string
		want   string
	}{
		{[]string{Hello + "\r\n", "pipbake: installing\n"}, "pipbake: installing\n"},
		{[]string{"pip", "bake-session-1\r", "\nrest\n"}, "rest\n"},
		{[]string{"pipbake: installing\n", Hello + "\n"}, "pipbake: installing\n" + Hello + "\n"},
		{[]string{"pipbake: ", "in", "stalling\n", Armed + "\r\n", "done\n", SwitchRequest + "\n"}, "pipbake: installing\ndone\n"},
		{[]string{"pipbake-s"}, "pipbake-s"},
		{nil, ""},
	} {
		var got bytes.Buffer
		o := NewHost(context.Background(), nil).Stdout(&got)
		for _, w := range c.writes {
			if n, err := o.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", w, n, err)
			}
		}
		o.Flush()
		if got.String() != c.want {
			t.Errorf("%q: got %q, want %q", c.writes, got.String(), c.want)
		}
	}
}
