package fetch

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/fetch/fetchtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/mototest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/nginxtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/wheelhouse"
)

// realSet is Flask's dependency closure from the repacked corpus: real
// wheels, a hashed lock of them, and a static index of them.
type realSet struct {
	wheels []corpus.Wheel
	lock   *lock.Lock
	root   string // fetchtest.WriteIndex tree
}

func flaskSet(t *testing.T) realSet {
	t.Helper()
	set := corpustest.Set(t)
	wheels, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "flask.txt")
	if err := corpus.WriteRequirements(lockPath, wheels); err != nil {
		t.Fatal(err)
	}
	lk, err := lock.ParseFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	var files []fetchtest.File
	for _, w := range wheels {
		files = append(files, fetchtest.File{Path: w.Path})
	}
	root := filepath.Join(dir, "index")
	if _, err := fetchtest.WriteIndex(root, files); err != nil {
		t.Fatal(err)
	}
	return realSet{wheels: wheels, lock: lk, root: root}
}

// probed returns Options for the corpus interpreter, probed.
func probed(t *testing.T, locks ...*lock.Lock) Options {
	t.Helper()
	tg, err := target.Probe(context.Background(), corpustest.Python(t))
	if err != nil {
		t.Fatal(err)
	}
	o := options(t, locks...)
	if o.Tags, err = tg.Tags(); err != nil {
		t.Fatal(err)
	}
	o.Env = tg.Markers
	return o
}

// checkHouse checks that out holds exactly the set's wheels, and that
// install's wheelhouse chooses them for the lock.
func (s realSet) checkHouse(t *testing.T, o Options) {
	t.Helper()
	idx := readIndex(t, o.Out)
	if len(idx.Wheels) != len(s.wheels) {
		t.Fatalf("%d wheels, want %d", len(idx.Wheels), len(s.wheels))
	}
	for i, w := range s.wheels {
		e := idx.Wheels[i]
		if e.File != w.File || e.SHA256 != w.SHA256 || e.Size != w.Size {
			t.Errorf("entry %d: %+v, want %s %s", i, e, w.File, w.SHA256)
		}
		if got, _, _ := wheelhouse.HashFile(filepath.Join(o.Out, e.File)); got != w.SHA256 {
			t.Errorf("%s has sha256 %s", e.File, got)
		}
	}
	house, err := wheelhouse.Open(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	pins, _ := s.lock.ForEnv(o.Env)
	if _, err := house.Choose(pins, o.Tags); err != nil {
		t.Fatal(err)
	}
}

// TestNginxIndexes fetches real wheels from Debian's nginx serving a
// static PEP 503 tree and a PEP 691 JSON tree, for a probed interpreter;
// then again with a warm cache, which asks nginx nothing.
func TestNginxIndexes(t *testing.T) {
	s := flaskSet(t)
	srv := nginxtest.Start(t, nginxtest.Options{Root: s.root, Server: fetchtest.NginxLocations})
	for _, api := range []string{"simple", "json"} {
		t.Run(api, func(t *testing.T) {
			o := probed(t, s.lock)
			o.Sources = []string{srv.URL + "/" + api + "/"}
			before := len(srv.Requests())
			res, err := Fetch(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			s.checkHouse(t, o)
			reqs := srv.Requests()[before:]
			if len(reqs) != 2*len(s.wheels) || !slices.Contains(reqs, "GET /"+api+"/flask/ HTTP/1.1 200") {
				t.Fatalf("requests: %v", reqs)
			}
			if res.Wheels[0].Source != srv.URL+"/files/"+s.wheels[0].File {
				t.Fatalf("source %s", res.Wheels[0].Source)
			}
			o.Out = filepath.Join(t.TempDir(), "warm")
			o.HTTPClient = &http.Client{Transport: failTransport{t}}
			if res, err = Fetch(context.Background(), o); err != nil || res.FromCache != len(s.wheels) {
				t.Fatalf("warm: %v %+v", err, res)
			}
			if n := len(srv.Requests()); n != before+len(reqs) {
				t.Fatalf("warm fetch sent %d requests", n-before-len(reqs))
			}
		})
	}
}

// TestNginxBasicAuth: the same tree behind nginx's auth_basic, reached
// with a password in the URL, with netrc, and with a host token; without
// credentials it is access denied. No secret appears anywhere.
func TestNginxBasicAuth(t *testing.T) {
	const pass, token = "nginx-Pa55-word", "nginx-tok-0123456789"
	s := flaskSet(t)
	srv := nginxtest.Start(t, nginxtest.Options{Root: s.root, Users: map[string]string{"alice": pass, "__token__": token}})
	dir := t.TempDir()
	netrc := filepath.Join(dir, "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1\n  login alice\n  password "+pass+"\n"), 0o600)
	t.Setenv("NETRC", filepath.Join(dir, "none"))

	run := func(t *testing.T, source string, ok bool) {
		t.Helper()
		o := options(t, s.lock)
		o.Sources = []string{source}
		var log logBuffer
		o.Log = &log
		res, err := Fetch(context.Background(), o)
		if (err == nil) != ok {
			t.Fatalf("err = %v", err)
		}
		text := log.String()
		if err != nil {
			text += err.Error()
			if !errors.Is(err, AccessDenied) || !strings.Contains(err.Error(), "401 Unauthorized") {
				t.Fatalf("err = %v", err)
			}
		} else {
			s.checkHouse(t, o)
			data, _ := os.ReadFile(filepath.Join(o.Out, wheelhouse.IndexName))
			text += string(data)
			for _, w := range res.Wheels {
				text += w.Source
			}
		}
		for _, secret := range []string{pass, token} {
			if strings.Contains(text, secret) {
				t.Fatalf("%q leaked:\n%s", secret, text)
			}
		}
	}
	t.Run("no credentials", func(t *testing.T) { run(t, srv.URL+"/simple/", false) })
	t.Run("password in URL", func(t *testing.T) {
		run(t, strings.Replace(srv.URL, "http://", "http://alice:"+pass+"@", 1)+"/simple/", true)
	})
	t.Run("netrc", func(t *testing.T) {
		t.Setenv("NETRC", netrc)
		run(t, srv.URL+"/simple/", true)
	})
	t.Run("token", func(t *testing.T) {
		t.Setenv(EnvToken, token)
		run(t, srv.URL+"/simple/", true)
	})
	t.Run("wrong password", func(t *testing.T) {
		run(t, strings.Replace(srv.URL, "http://", "http://alice:"+pass+"x@", 1)+"/simple/", false)
	})
}

// awsEnv points the SDK's default chain at static test keys and away from
// the machine's AWS configuration and the instance metadata service.
func awsEnv(t *testing.T, key, secret string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": mototest.Region, "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "",
	} {
		t.Setenv(k, v)
	}
}

// TestS3 fetches from a moto_server bucket through aws-sdk-go-v2: wheels
// in project folders and flat, by --s3-endpoint and by AWS_ENDPOINT_URL;
// a missing bucket is a clear error.
func TestS3(t *testing.T) {
	s := flaskSet(t)
	m := mototest.Start(t, mototest.Options{})
	m.CreateBucket(t, "wheels")
	for i, w := range s.wheels {
		key := "pypi/" + w.File
		if i%2 == 0 {
			key = "pypi/" + strings.ToLower(w.Name) + "/" + w.File
		}
		m.Put(t, "wheels", key, w.Path)
	}
	m.Put(t, "wheels", "elsewhere/"+s.wheels[0].File, s.wheels[0].Path) // outside the prefix
	awsEnv(t, mototest.AccessKey, mototest.SecretKey)

	o := options(t, s.lock)
	o.Sources = []string{"s3://wheels/pypi"}
	o.S3Endpoint = m.Endpoint
	res, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	s.checkHouse(t, o)
	if !strings.HasPrefix(res.Wheels[0].Source, "s3://wheels/pypi/") {
		t.Fatalf("source %s", res.Wheels[0].Source)
	}

	t.Run("AWS_ENDPOINT_URL", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL", m.Endpoint)
		o := options(t, s.lock)
		o.Sources = []string{"s3://wheels/pypi/"}
		if _, err := Fetch(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		s.checkHouse(t, o)
	})
	t.Run("no such bucket", func(t *testing.T) {
		o := options(t, s.lock)
		o.Sources = []string{"s3://nobucket/x"}
		o.S3Endpoint = m.Endpoint
		_, err := Fetch(context.Background(), o)
		if !errors.Is(err, NotFound) || !strings.Contains(err.Error(), "s3://nobucket/x/: S3 bucket nobucket does not exist") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestS3AccessDenied: moto checking IAM: a user without a policy is
// refused, and so is a fetch with no credentials at all; the secret key
// never appears.
func TestS3AccessDenied(t *testing.T) {
	s := flaskSet(t)
	// Four unchecked requests to set up; then moto checks every request.
	m := mototest.Start(t, mototest.Options{NoAuthActions: 4})
	m.CreateBucket(t, "private")
	m.Put(t, "private", s.wheels[0].File, s.wheels[0].Path)
	key, secret := m.CreateUser(t, "nobody", "")

	awsEnv(t, key, secret)
	o := options(t, s.lock)
	o.Sources = []string{"s3://private/"}
	o.S3Endpoint = m.Endpoint
	_, err := Fetch(context.Background(), o)
	if !errors.Is(err, AccessDenied) || !strings.Contains(err.Error(), "S3 access denied") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("the error:\n%v", err)
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("secret key in error: %v", err)
	}

	awsEnv(t, "", "")
	_, err = Fetch(context.Background(), o)
	t.Logf("the error:\n%v", err)
	if !errors.Is(err, AccessDenied) || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Fatalf("no credentials: err = %v", err)
	}
}
