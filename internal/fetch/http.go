package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// defaultClient is the HTTP client used when Options.HTTPClient is nil:
// the proxy settings of the environment, short connect timeouts, enough
// idle connections per host for the parallel downloads, and no overall
// deadline (a large wheel on a slow link takes what it takes; a stalled
// one is ended by stallReader).
func defaultClient(jobs int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 60 * time.Second
	tr.MaxIdleConnsPerHost = jobs + 2
	return &http.Client{Transport: tr}
}

// httpRequest sends one GET with the host's credentials and returns a
// successful response, or a *statusError (401 and 403 as a *sourceError
// of kind AccessDenied) with the body closed. The caller retries.
func (f *fetcher) httpRequest(ctx context.Context, u *url.URL, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("User-Agent", f.userAgent)
	f.creds.authorize(req)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	se := newStatusError(resp, Redact(u.String()))
	if last := resp.Request.URL; last.String() != u.String() {
		se.url += " (redirected to " + Redact(last.String()) + ")"
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// After a redirect, what counts is what went to the last origin.
		hint := "no credentials were sent: put user:password in the URL, a machine entry in netrc, or a token in " + EnvTokenPrefix + EnvHost(resp.Request.URL.Hostname())
		if f.creds.npm != nil {
			hint = "no credentials were sent: put //" + resp.Request.URL.Host + "/:_authToken=TOKEN in .npmrc (the project's, beside the lock, or ~/.npmrc), or user:password in the URL"
		}
		if resp.Request.Header.Get("Authorization") != "" {
			hint = "the credentials sent were refused"
		}
		return nil, &sourceError{kind: AccessDenied, msg: hint, err: se}
	}
	return nil, se
}

// httpOpen starts a download. The caller reads the body and retries the
// whole download if it breaks.
func (f *fetcher) httpOpen(ctx context.Context, u *url.URL) (io.ReadCloser, int64, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	resp, err := f.httpRequest(rctx, u, "")
	if err != nil {
		cancel(context.Canceled)
		return nil, 0, err
	}
	return newStallReader(rctx, cancel, resp.Body), resp.ContentLength, nil
}

// httpGetAll fetches a page whole, with retries, returning its body, the
// URL it came from after redirects and its content type.
func (f *fetcher) httpGetAll(ctx context.Context, u *url.URL, accept string, limit int64) (body []byte, final *url.URL, ctype string, err error) {
	err = withRetry(ctx, func() error {
		resp, err := f.httpRequest(ctx, u, accept)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return err
		}
		if int64(len(body)) > limit {
			return &sourceError{kind: MalformedIndex, msg: fmt.Sprintf("%s is larger than %d MB", Redact(u.String()), limit>>20)}
		}
		final, ctype = resp.Request.URL, resp.Header.Get("Content-Type")
		return nil
	}, f.retryNote(u.String()))
	if err != nil {
		return nil, nil, "", classifyNet(err, u.Host)
	}
	return body, final, ctype, nil
}

// classifyNet turns a transport failure that outlived its retries into
// a source error of kind Unreachable.
func classifyNet(err error, host string) error {
	var se *sourceError
	var st *statusError
	if errors.As(err, &se) || errors.Is(err, context.Canceled) {
		return err
	}
	if errors.As(err, &st) {
		if st.code >= 500 || st.code == http.StatusTooManyRequests {
			return &sourceError{kind: Unreachable, msg: "the server keeps failing", err: err}
		}
		return err
	}
	if ok, _, _ := retryable(err); ok {
		return &sourceError{kind: Unreachable, msg: fmt.Sprintf("cannot reach %s", Redact(host)), err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &sourceError{kind: Unreachable, msg: fmt.Sprintf("cannot reach %s", Redact(host)), err: err}
	}
	return err
}

func (f *fetcher) retryNote(what string) func(int, time.Duration, error) {
	return func(n int, wait time.Duration, err error) {
		f.logf("pipbake fetch: %s: %v; retrying in %s (attempt %d of %d)", Redact(what), err, wait.Round(time.Millisecond), n+1, attempts)
	}
}
