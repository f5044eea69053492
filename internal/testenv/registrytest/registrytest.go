// Package registrytest runs Debian's docker-registry (the CNCF
// distribution registry) on 127.0.0.1 for tests, with its storage in a
// temporary folder, stopped when the test ends.
//
// Where docker-registry is not installed the test is skipped, or fails
// when PIPBAKE_E2E_REQUIRED is set (as CI sets it).
package registrytest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/childproc"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

// Server is a running registry.
type Server struct {
	// Host is 127.0.0.1:PORT.
	Host string
	Dir  string
	cmd  *exec.Cmd
}

// Binary returns the registry program, or "".
func Binary() string {
	if p := os.Getenv("PIPBAKE_DOCKER_REGISTRY"); p != "" {
		return p
	}
	if p, err := exec.LookPath("docker-registry"); err == nil {
		return p
	}
	return ""
}

// Config is the registry configuration for storage dir on port.
func Config(dir string, port int) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: 127.0.0.1:%d
`, dir, port)
}

// Start runs a registry for tb.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary()
	if bin == "" {
		testenv.Missing(tb, "docker-registry is not installed (apt-get install docker-registry)")
	}
	dir := tb.TempDir()
	for try := 0; try < 5; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		conf := filepath.Join(dir, "config.yml")
		os.WriteFile(conf, []byte(Config(filepath.Join(dir, "data"), port)), 0o644)
		log, _ := os.Create(filepath.Join(dir, "registry.log"))
		cmd := exec.Command(bin, "serve", conf)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "OTEL_TRACES_EXPORTER=none"}
		cmd.SysProcAttr = childproc.SysProcAttr()
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start docker-registry: %v", err)
		}
		s := &Server{Host: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, cmd: cmd}
		exited := make(chan struct{})
		go func() { cmd.Wait(); log.Close(); close(exited) }()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				deadline = time.Time{}
				continue
			default:
			}
			resp, err := http.Get("http://" + s.Host + "/v2/")
			if err == nil {
				resp.Body.Close()
				tb.Cleanup(func() { cmd.Process.Kill(); <-exited })
				return s
			}
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Kill()
		<-exited
	}
	out, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
	tb.Fatalf("docker-registry did not start:\n%s", out)
	return nil
}
