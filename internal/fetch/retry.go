package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Retry policy. Variables so the package's tests can shorten the waits.
var (
	// attempts is how many times a request is tried in all.
	attempts = 5
	// backoffBase is the first wait; each retry doubles it (with jitter).
	backoffBase = 250 * time.Millisecond
	// maxRetryAfter is the longest Retry-After honoured; a server asking
	// for more gets an error saying so.
	maxRetryAfter = 60 * time.Second
	// stallTimeout ends a download that has received nothing for so long
	// (and it is retried).
	stallTimeout = 60 * time.Second
)

// statusError is an HTTP (or S3) answer other than success.
type statusError struct {
	url        string // redacted
	code       int
	status     string
	retryAfter time.Duration // from Retry-After; -1 when absent
	detail     string        // e.g. an S3 error code
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("%s: %s", e.url, e.status)
	if e.detail != "" {
		s += " (" + e.detail + ")"
	}
	return s
}

// newStatusError describes a non-2xx response.
func newStatusError(resp *http.Response, url string) *statusError {
	return &statusError{url: url, code: resp.StatusCode, status: resp.Status, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
}

// parseRetryAfter reads delay-seconds or an HTTP date; -1 when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// errStalled ends a download that stopped sending.
var errStalled = errors.New("the transfer stalled")

// retryable says whether err is worth another try and how long to wait
// first (-1: use the backoff).
func retryable(err error) (ok bool, wait time.Duration, why string) {
	if err == nil || errors.Is(err, context.Canceled) && !errors.Is(err, errStalled) {
		return false, 0, ""
	}
	var se *statusError
	if errors.As(err, &se) {
		switch {
		case se.code == http.StatusTooManyRequests || se.code == http.StatusServiceUnavailable:
			if se.retryAfter > maxRetryAfter {
				return false, 0, fmt.Sprintf("the server asked to retry after %s, longer than pipbake waits (%s)", se.retryAfter, maxRetryAfter)
			}
			return true, se.retryAfter, se.status
		case se.code >= 500:
			return true, -1, se.status
		}
		return false, 0, ""
	}
	var ne net.Error
	switch {
	case errors.Is(err, errStalled):
		return true, -1, "stalled"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return true, -1, "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return true, -1, "connection refused"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true, -1, "connection closed early"
	case errors.As(err, &ne) && ne.Timeout():
		return true, -1, "timeout"
	case errors.Is(err, context.DeadlineExceeded):
		return true, -1, "timeout"
	}
	// net/http wraps some transport failures only in text.
	msg := err.Error()
	for _, s := range []string{"connection reset", "broken pipe", "server closed idle connection", "unexpected EOF", "stream error", "transport connection broken"} {
		if strings.Contains(msg, s) {
			return true, -1, s
		}
	}
	return false, 0, ""
}

// backoff is the wait before retry n (1-based): base·2^(n-1), jittered to
// between half and all of it.
func backoff(n int) time.Duration {
	d := backoffBase << (n - 1)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// withRetry runs try until it succeeds, fails for good, or has been tried
// attempts times. note, when set, hears of each retry.
func withRetry(ctx context.Context, try func() error, note func(n int, wait time.Duration, err error)) error {
	var err error
	for n := 1; ; n++ {
		err = try()
		ok, wait, why := retryable(err)
		if err == nil || !ok || n >= attempts || ctx.Err() != nil {
			if err != nil && n > 1 && ok {
				err = fmt.Errorf("%w (tried %d times)", err, n)
			} else if err != nil && why != "" {
				err = fmt.Errorf("%w: %s", err, why)
			}
			return err
		}
		if wait < 0 {
			wait = backoff(n)
		}
		if note != nil {
			note(n, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// stallReader cancels its request when no byte has arrived for
// stallTimeout, and reports that as errStalled so it is retried.
type stallReader struct {
	r      io.ReadCloser
	timer  *time.Timer
	cancel context.CancelCauseFunc
	ctx    context.Context
}

func newStallReader(ctx context.Context, cancel context.CancelCauseFunc, r io.ReadCloser) *stallReader {
	s := &stallReader{r: r, cancel: cancel, ctx: ctx}
	s.timer = time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	return s
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(stallTimeout)
	}
	if err != nil && err != io.EOF && errors.Is(context.Cause(s.ctx), errStalled) {
		err = fmt.Errorf("%w: nothing received for %s", errStalled, stallTimeout)
	}
	return n, err
}

func (s *stallReader) Close() error {
	s.timer.Stop()
	err := s.r.Close()
	s.cancel(context.Canceled)
	return err
}
