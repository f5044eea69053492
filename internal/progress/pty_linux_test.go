package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a new pseudo-terminal from /dev/ptmx: the master side
// (what a terminal emulator reads) and the slave side (the terminal a
// program writes to).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("open pty slave: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// drain reads the master side until closed; String returns what came.
type drain struct {
	mu  sync.Mutex
	buf bytes.Buffer
	wg  sync.WaitGroup
}

func startDrain(r io.Reader) *drain {
	d := &drain{}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			d.mu.Lock()
			d.buf.Write(b[:n])
			d.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return d
}

func (d *drain) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.buf.String()
}

func TestIsTerminal(t *testing.T) {
	_, slave := openPTY(t)
	if !IsTerminal(slave) {
		t.Error("a pty is not taken for a terminal")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if IsTerminal(pw) {
		t.Error("a pipe is taken for a terminal")
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// /dev/null is a character device, which is what pipbake used to ask.
	if IsTerminal(null) {
		t.Error("/dev/null is taken for a terminal")
	}
	f, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a file is taken for a terminal")
	}
}

func TestModeOf(t *testing.T) {
	_, slave := openPTY(t)
	pr, pw, _ := os.Pipe()
	defer pr.Close()
	defer pw.Close()
	t.Setenv(EnvMode, "")
	t.Setenv("CI", "")
	t.Setenv("TERM", "xterm")
	for _, c := range []struct {
		name string
		w    io.Writer
		env  map[string]string
		want Mode
	}{
		{"nil", nil, nil, Off},
		{"pty", slave, nil, Terminal},
		{"pipe", pw, nil, Lines},
		{"buffer", &bytes.Buffer{}, nil, Lines},
		{"pty in CI", slave, map[string]string{"CI": "true"}, Lines},
		{"dumb pty", slave, map[string]string{"TERM": "dumb"}, Lines},
		{"forced lines", slave, map[string]string{EnvMode: "lines"}, Lines},
		{"forced terminal", pw, map[string]string{EnvMode: "terminal"}, Terminal},
		{"off", slave, map[string]string{EnvMode: "off"}, Off},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			if got := ModeOf(c.w); got != c.want {
				t.Errorf("ModeOf = %s, want %s", got, c.want)
			}
		})
	}
}

// TestTerminalOnPTY draws on a real pseudo-terminal: the line is redrawn
// in place and ended once.
func TestTerminalOnPTY(t *testing.T) {
	t.Setenv(EnvMode, "")
	t.Setenv("CI", "")
	t.Setenv("TERM", "xterm")
	master, slave := openPTY(t)
	d := startDrain(master)
	m := Start(slave, "upload", TotalBytes(4<<20), Delay(0), Redraw(5*time.Millisecond))
	if m.mode != Terminal {
		t.Fatalf("mode %s on a pty", m.mode)
	}
	r := m.Reader(bytes.NewReader(make([]byte, 4<<20)))
	buf := make([]byte, 1<<20)
	for {
		if _, err := r.Read(buf); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.Println(slave, "a log line")
	m.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(d.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := d.String()
	if strings.Count(got, "\rupload [") < 3 || !strings.Contains(got, "\x1b[K") {
		t.Errorf("not redrawn in place: %q", got)
	}
	if !strings.Contains(got, "\r\x1b[Ka log line") {
		t.Errorf("the log line did not clear the bar first: %q", got)
	}
	if !strings.Contains(got, "upload [########################]  4.0 MB of 4.0 MB") {
		t.Errorf("no full bar at the end: %q", got)
	}
	// The terminal turns the one final \n into \r\n.
	if !strings.HasSuffix(got, "\x1b[K\r\n") || strings.Count(got, "\n") != 2 {
		t.Errorf("not ended with exactly one newline after the log line: %q", got)
	}
}

// TestLinesOnPipe writes plain lines to a pipe: no carriage returns or
// escapes, one line per interval, a closing line.
func TestLinesOnPipe(t *testing.T) {
	t.Setenv(EnvMode, "")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d := startDrain(pr)
	m := Start(pw, "install", Total(10), Unit("wheels"), Delay(30*time.Millisecond), Every(30*time.Millisecond))
	for range 10 {
		m.Add(1)
		m.AddBytes(1 << 20)
		time.Sleep(25 * time.Millisecond)
	}
	m.Stop()
	pw.Close()
	d.wg.Wait()
	pr.Close()
	got := d.String()
	if strings.ContainsAny(got, "\r\x1b") {
		t.Errorf("carriage return or escape in line mode: %q", got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("want several lines, got %q", got)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "install: ") {
			t.Errorf("line %q", l)
		}
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "install: done, 10/10 wheels, 10.0 MB, ") || !strings.HasSuffix(last, "s") {
		t.Errorf("closing line %q", last)
	}
}

// TestShortStepIsSilent: a step done before the delay writes nothing, in
// either mode.
func TestShortStepIsSilent(t *testing.T) {
	for _, mode := range []Mode{Lines, Terminal} {
		var b bytes.Buffer
		m := Start(&b, "x", WithMode(mode), Total(3), Unit("files"))
		m.Add(3)
		m.Stop()
		m.Stop() // twice is fine
		if b.Len() != 0 {
			t.Errorf("%s: a short step wrote %q", mode, b.String())
		}
	}
	var nilMeter *Meter
	nilMeter.Add(1)
	nilMeter.Stop()
	if m := Start(&bytes.Buffer{}, "x", WithMode(Off)); m != nil {
		t.Error("Off gives a meter")
	}
}

func TestLineWriter(t *testing.T) {
	var got []string
	w := LineWriter(func(s string) { got = append(got, s) })
	io.WriteString(w, "a: 1\r\nb: ")
	io.WriteString(w, "2\n\nc")
	if strings.Join(got, "|") != "a: 1|b: 2|" {
		t.Errorf("lines %q", got)
	}
	if ModeOf(w) != Lines && os.Getenv(EnvMode) == "" {
		t.Errorf("a UI writer is not Lines")
	}
}
