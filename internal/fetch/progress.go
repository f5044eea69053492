package fetch

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress draws a one-line bar on a terminal:
//
//	fetch [##########··········]  45/90 wheels  31.2 MB  12.4 MB/s
//
// redrawn in place every 100ms and finished with a newline.
type progress struct {
	w     io.Writer
	total int
	unit  string // what is counted; "wheels" when empty
	start time.Time

	done  atomic.Int64 // pins finished
	bytes atomic.Int64 // bytes downloaded

	stop chan struct{}
	wg   sync.WaitGroup
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, start: time.Now(), stop: make(chan struct{})}
	if w == nil {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				p.draw(true)
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return p
}

// counter counts bytes as they stream through.
func (p *progress) counter(r io.Reader) io.Reader {
	return &countingReader{r: r, n: &p.bytes}
}

func (p *progress) pinDone() { p.done.Add(1) }

func (p *progress) finish() {
	if p.w == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
}

func (p *progress) draw(final bool) {
	const width = 24
	done := int(p.done.Load())
	filled := 0
	if p.total > 0 {
		filled = width * done / p.total
	}
	secs := time.Since(p.start).Seconds()
	b := p.bytes.Load()
	rate := 0.0
	if secs > 0 {
		rate = float64(b) / secs
	}
	unit := p.unit
	if unit == "" {
		unit = "wheels"
	}
	line := fmt.Sprintf("\rfetch [%s%s] %4d/%d %s  %s  %s/s", strings.Repeat("#", filled), strings.Repeat("·", width-filled),
		done, p.total, unit, humanBytes(b), humanBytes(int64(rate)))
	if final {
		line += "\n"
	} else {
		line += "\x1b[K"
	}
	io.WriteString(p.w, line)
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func humanBytes(n int64) string {
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
