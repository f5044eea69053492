// Package progress shows how a long step is going. On a terminal it is
// one line redrawn in place (count, bytes, rate); anywhere else (CI logs,
// Packer's UI, a file) it is a plain line now and then, with no carriage
// returns or escape codes; a step shorter than a second shows nothing.
//
// ModeOf is the one place that decides which: it is used by every part of
// pipbake that reports progress (fetches, the provisioner's upload, base
// image unpacking, debootstrap, installs).
//
//	m := progress.Start(os.Stderr, "fetch", progress.Total(90), progress.Unit("wheels"))
//	defer m.Stop()
//	r = m.Reader(r) // counts bytes
//	m.Add(1)        // one wheel done
//
// A nil *Meter does nothing, so callers need not check.
package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Mode is how progress is shown.
type Mode int

const (
	// Auto decides with ModeOf (the zero value of an option).
	Auto Mode = iota
	// Off shows nothing.
	Off
	// Lines writes a plain line now and then (CI, Packer, files).
	Lines
	// Terminal redraws one line in place.
	Terminal
)

func (m Mode) String() string {
	switch m {
	case Off:
		return "off"
	case Lines:
		return "lines"
	case Terminal:
		return "terminal"
	}
	return "auto"
}

// EnvMode is the environment variable that overrides ModeOf: "terminal",
// "lines" or "off".
const EnvMode = "PIPBAKE_PROGRESS"

// ModeOf decides how progress written to w is shown: Off for nil; what
// PIPBAKE_PROGRESS says when set; Terminal for an *os.File that is a
// terminal, unless CI is set or TERM is "dumb"; Lines for everything else.
func ModeOf(w io.Writer) Mode {
	if w == nil {
		return Off
	}
	switch strings.ToLower(os.Getenv(EnvMode)) {
	case "off", "none", "0":
		return Off
	case "lines", "line", "plain":
		return Lines
	case "terminal", "tty":
		return Terminal
	}
	f, ok := w.(*os.File)
	if !ok || !IsTerminal(f) || os.Getenv("CI") != "" || os.Getenv("TERM") == "dumb" {
		return Lines
	}
	return Terminal
}

// Defaults of the options.
const (
	DefaultDelay  = time.Second
	DefaultEvery  = 10 * time.Second
	DefaultRedraw = 200 * time.Millisecond
)

// Option tunes a Meter.
type Option func(*Meter)

// Total is how many items the step has (0: unknown).
func Total(n int) Option { return func(m *Meter) { m.total = int64(n) } }

// TotalBytes is how many bytes the step moves (0: unknown).
func TotalBytes(n int64) Option { return func(m *Meter) { m.totalBytes = n } }

// Unit names the items counted ("wheels", "files"); without it counts
// are not shown.
func Unit(u string) Option { return func(m *Meter) { m.unit = u } }

// Note is a short note shown after the numbers from the start (what the
// step is doing); Meter.Status changes it.
func Note(s string) Option { return func(m *Meter) { m.status = s } }

// NoDoneLine leaves out the closing line of Lines mode (for a caller that
// writes its own summary).
func NoDoneLine() Option { return func(m *Meter) { m.noDone = true } }

// WithMode chooses the mode instead of ModeOf.
func WithMode(mode Mode) Option { return func(m *Meter) { m.mode = mode } }

// Delay is how long the step runs before anything is shown (default 1s).
func Delay(d time.Duration) Option { return func(m *Meter) { m.delay = d } }

// Every is how often a line is written in Lines mode (default 10s).
func Every(d time.Duration) Option { return func(m *Meter) { m.every = d } }

// Redraw is how often the line is redrawn in Terminal mode (default 200ms).
func Redraw(d time.Duration) Option { return func(m *Meter) { m.redraw = d } }

// Meter reports one step. Its methods are safe for concurrent use and do
// nothing on a nil Meter.
type Meter struct {
	w          io.Writer
	label      string
	unit       string
	mode       Mode
	total      int64
	totalBytes int64
	delay      time.Duration
	every      time.Duration
	redraw     time.Duration
	noDone     bool
	start      time.Time

	mu     sync.Mutex
	count  int64
	bytes  int64
	status string
	shown  bool // something was written
	onLine bool // Terminal: the cursor is on the drawn line
	lines  int  // Lines: lines written
	done   bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// Start begins reporting a step called label to w. It returns nil (which
// reports nothing) when the mode is Off.
func Start(w io.Writer, label string, opts ...Option) *Meter {
	m := &Meter{w: w, label: label, delay: DefaultDelay, every: DefaultEvery, redraw: DefaultRedraw, start: time.Now()}
	for _, o := range opts {
		o(m)
	}
	if m.mode == Auto {
		m.mode = ModeOf(w)
	}
	if w == nil || m.mode == Off {
		return nil
	}
	m.stop = make(chan struct{})
	m.wg.Add(1)
	go m.loop()
	return m
}

func (m *Meter) loop() {
	defer m.wg.Done()
	wait := m.delay
	for {
		select {
		case <-m.stop:
			return
		case <-time.After(wait):
		}
		m.mu.Lock()
		if m.mode == Terminal {
			m.drawLocked()
			wait = m.redraw
		} else {
			m.lineLocked(false)
			wait = m.every
		}
		m.mu.Unlock()
	}
}

// Add counts n items done.
func (m *Meter) Add(n int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.count += int64(n)
	m.mu.Unlock()
}

// AddBytes counts n bytes moved.
func (m *Meter) AddBytes(n int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.bytes += n
	m.mu.Unlock()
}

// SetTotal changes the number of items (when it is learned late).
func (m *Meter) SetTotal(n int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.total = int64(n)
	m.mu.Unlock()
}

// Status sets a short note shown after the numbers (what is under way).
func (m *Meter) Status(s string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.status = s
	m.mu.Unlock()
}

// Reader counts the bytes read through r.
func (m *Meter) Reader(r io.Reader) io.Reader {
	if m == nil {
		return r
	}
	return &reader{r: r, m: m}
}

type reader struct {
	r io.Reader
	m *Meter
}

func (c *reader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.m.AddBytes(int64(n))
	}
	return n, err
}

// Println writes a log line to w (often the same writer as the meter's)
// without tearing the drawn line: on a terminal the line is cleared first
// and redrawn at the next tick. On a nil Meter it just writes the line.
func (m *Meter) Println(w io.Writer, line string) {
	if m == nil {
		io.WriteString(w, line+"\n")
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.onLine {
		io.WriteString(m.w, "\r\x1b[K")
		m.onLine = false
	}
	io.WriteString(w, line+"\n")
}

// Stop ends the step. On a terminal the line is drawn a last time and
// ended; in Lines mode a closing line is written when any was before (a
// short step stays silent).
func (m *Meter) Stop() {
	if m == nil {
		return
	}
	m.mu.Lock()
	if m.done {
		m.mu.Unlock()
		return
	}
	m.done = true
	m.mu.Unlock()
	close(m.stop)
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.mode == Terminal && m.shown:
		m.drawLocked()
		io.WriteString(m.w, "\n")
		m.onLine = false
	case m.mode == Lines && m.lines > 0 && !m.noDone:
		m.lineLocked(true)
	}
}

// Elapsed is how long the step has run.
func (m *Meter) Elapsed() time.Duration {
	if m == nil {
		return 0
	}
	return time.Since(m.start)
}

func (m *Meter) drawLocked() {
	const width = 24
	var b strings.Builder
	b.WriteString("\r")
	b.WriteString(m.label)
	if frac, ok := m.fraction(); ok {
		filled := min(width, int(frac*width))
		fmt.Fprintf(&b, " [%s%s]", strings.Repeat("#", filled), strings.Repeat("·", width-filled))
	}
	for _, p := range m.parts(false) {
		b.WriteString("  ")
		b.WriteString(p)
	}
	b.WriteString("\x1b[K")
	io.WriteString(m.w, b.String())
	m.shown, m.onLine = true, true
}

func (m *Meter) lineLocked(final bool) {
	parts := m.parts(true)
	if final {
		parts = append([]string{"done"}, parts...)
	}
	fmt.Fprintf(m.w, "%s: %s\n", m.label, strings.Join(parts, ", "))
	m.shown = true
	m.lines++
}

// fraction is how far along the step is, from the count or the bytes.
func (m *Meter) fraction() (float64, bool) {
	switch {
	case m.total > 0:
		return min(1, float64(m.count)/float64(m.total)), true
	case m.totalBytes > 0:
		return min(1, float64(m.bytes)/float64(m.totalBytes)), true
	}
	return 0, false
}

// parts are the numbers shown: count, bytes, rate, time (lines only) and
// the status.
func (m *Meter) parts(withTime bool) []string {
	var out []string
	if m.unit != "" {
		if m.total > 0 {
			out = append(out, fmt.Sprintf("%d/%d %s", m.count, m.total, m.unit))
		} else {
			out = append(out, fmt.Sprintf("%d %s", m.count, m.unit))
		}
	}
	secs := time.Since(m.start).Seconds()
	if m.bytes > 0 || m.totalBytes > 0 {
		if m.totalBytes > 0 {
			out = append(out, Bytes(m.bytes)+" of "+Bytes(m.totalBytes))
		} else {
			out = append(out, Bytes(m.bytes))
		}
		if secs > 0 {
			out = append(out, Bytes(int64(float64(m.bytes)/secs))+"/s")
		}
	}
	if withTime {
		out = append(out, fmt.Sprintf("%.0fs", secs))
	}
	if m.status != "" {
		out = append(out, m.status)
	}
	return out
}

// Bytes formats a size: "512 B", "3.4 kB", "12.1 MB", "1.2 GB" (binary
// multiples, as the rest of pipbake's messages).
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Plain wraps w so that ModeOf takes it for Lines even when it is a
// terminal: for output that ends up as lines elsewhere (the agent's, which
// the Packer provisioner turns into lines of Packer's UI, behind ssh_pty
// too).
func Plain(w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	return plain{w}
}

type plain struct{ io.Writer }

// LineWriter turns what is written into calls of say, one per complete
// line (without its newline or a trailing carriage return): for a UI that
// takes messages, such as Packer's ui.Message.
func LineWriter(say func(string)) io.Writer { return &lineWriter{say: say} }

type lineWriter struct {
	mu   sync.Mutex
	say  func(string)
	part []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.say(strings.TrimRight(string(l.part[:i]), "\r"))
		l.part = l.part[i+1:]
	}
	return len(p), nil
}
