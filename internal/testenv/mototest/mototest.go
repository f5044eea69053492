// Package mototest runs moto_server (an S3 and IAM emulator, from the
// machine's Python 3.11) on 127.0.0.1 for tests, with helpers to fill
// buckets through aws-sdk-go-v2 and to make IAM users.
//
// Where moto_server is not installed the test is skipped, or fails when
// PIPBAKE_E2E_REQUIRED is set (as CI sets it).
package mototest

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pipbake/packer-plugin-pipbake/internal/childproc"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// Credentials moto accepts when it does not check them.
const (
	AccessKey = "testing"
	SecretKey = "testing"
	Region    = "us-east-1"
)

// Options configure a server.
type Options struct {
	// NoAuthActions, when > 0, makes moto check credentials and IAM
	// policies after the first NoAuthActions requests (which set things
	// up unchecked): moto's INITIAL_NO_AUTH_ACTION_COUNT.
	NoAuthActions int
}

// Server is a running moto_server.
type Server struct {
	// Endpoint is http://127.0.0.1:PORT.
	Endpoint string
	// LogPath is the server's output.
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Binary returns moto_server: $PIPBAKE_MOTO_SERVER, pyenv's 3.11.7, or
// one on PATH; "" when there is none.
func Binary() string {
	if p := os.Getenv("PIPBAKE_MOTO_SERVER"); p != "" {
		return p
	}
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".pyenv")
	}
	p := filepath.Join(root, "versions", "3.11.7", "bin", "moto_server")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p
	}
	return ""
}

// Start runs moto_server for the test.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	testenv.SkipShort(tb, "starts moto_server")
	if Binary() == "" {
		testenv.Missing(tb, "%s", NotInstalled)
	}
	s, err := Launch(tb.TempDir(), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// NotInstalled says what to do when Binary finds no moto_server.
const NotInstalled = "moto_server is not installed (pip install 'moto[server]' into pyenv 3.11.7, or set PIPBAKE_MOTO_SERVER)"

// Launch starts moto_server (Binary) on a free port of 127.0.0.1, its
// output in dir, and waits until it accepts connections; Stop ends it. For
// servers that outlive one test (started from TestMain); tests use Start.
func Launch(dir string, o Options) (*Server, error) {
	bin := Binary()
	if bin == "" {
		return nil, fmt.Errorf("mototest: %s", NotInstalled)
	}
	var lastLog string
	for try := 0; try < 3; try++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{}), LogPath: filepath.Join(dir, fmt.Sprintf("moto-%d.log", try))}
		s.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
		s.cmd.Env = cleanEnv(os.Environ())
		if o.NoAuthActions > 0 {
			s.cmd.Env = append(s.cmd.Env, fmt.Sprintf("INITIAL_NO_AUTH_ACTION_COUNT=%d", o.NoAuthActions))
		}
		logf, err := os.Create(s.LogPath)
		if err != nil {
			return nil, err
		}
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		s.cmd.SysProcAttr = childproc.SysProcAttr()
		if err := s.cmd.Start(); err != nil {
			logf.Close()
			return nil, fmt.Errorf("start moto_server: %w", err)
		}
		go func() { s.cmd.Wait(); logf.Close(); close(s.done) }()
		if s.waitReady(30 * time.Second) {
			return s, nil
		}
		s.Stop()
		b, _ := os.ReadFile(s.LogPath)
		lastLog = string(b)
	}
	return nil, fmt.Errorf("moto_server did not start:\n%s", lastLog)
}

// cleanEnv drops the variables that change how Python behaves, and any
// AWS settings of the caller.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "PYTHON") || strings.HasPrefix(kv, "PIP_") || strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "INITIAL_NO_AUTH") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// waitReady waits for the port to accept connections (a bare connection
// is no action, so it does not count against NoAuthActions).
func (s *Server) waitReady(timeout time.Duration) bool {
	host := strings.TrimPrefix(s.Endpoint, "http://")
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", host, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		select {
		case <-s.done:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// Stop ends the server.
func (s *Server) Stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// S3 returns a client for the server with the given keys (AccessKey and
// SecretKey when empty).
func (s *Server) S3(key, secret string) *s3.Client {
	if key == "" {
		key, secret = AccessKey, SecretKey
	}
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		Retryer:      aws.NopRetryer{},

		DisableLogOutputChecksumValidationSkipped: true,
	})
}

// CreateBucket makes a bucket (one request).
func (s *Server) CreateBucket(tb testing.TB, bucket string) {
	tb.Helper()
	if _, err := s.S3("", "").CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		tb.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// Put uploads a file as bucket/key (one request).
func (s *Server) Put(tb testing.TB, bucket, key, path string) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := s.S3("", "").PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: f}); err != nil {
		tb.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// CreateUser makes an IAM user with an access key (two requests, three
// with a policy) and returns the key's id and secret. policy, when not
// empty, is attached as the user's inline policy.
func (s *Server) CreateUser(tb testing.TB, name, policy string) (keyID, secret string) {
	tb.Helper()
	s.iam(tb, url.Values{"Action": {"CreateUser"}, "UserName": {name}})
	body := s.iam(tb, url.Values{"Action": {"CreateAccessKey"}, "UserName": {name}})
	var resp struct {
		Key struct {
			ID     string `xml:"AccessKeyId"`
			Secret string `xml:"SecretAccessKey"`
		} `xml:"CreateAccessKeyResult>AccessKey"`
	}
	if err := xml.Unmarshal(body, &resp); err != nil || resp.Key.ID == "" {
		tb.Fatalf("CreateAccessKey: %v: %s", err, body)
	}
	if policy != "" {
		s.iam(tb, url.Values{"Action": {"PutUserPolicy"}, "UserName": {name}, "PolicyName": {"p"}, "PolicyDocument": {policy}})
	}
	return resp.Key.ID, resp.Key.Secret
}

// iam sends one IAM query API request. moto routes it by the service in
// the credential scope; while NoAuthActions lasts the signature is not
// checked.
func (s *Server) iam(tb testing.TB, v url.Values) []byte {
	tb.Helper()
	v.Set("Version", "2010-05-08")
	req, _ := http.NewRequest(http.MethodPost, s.Endpoint+"/", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+AccessKey+"/20240101/"+Region+"/iam/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("IAM %s: %v", v.Get("Action"), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		tb.Fatalf("IAM %s: %s: %s", v.Get("Action"), resp.Status, body)
	}
	return body
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
