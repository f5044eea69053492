// Command corpus repacks this machine's Python site-packages into wheels
// (see internal/corpus) and lays them out for benchmarks and end-to-end
// tests:
//
//	go run ./bench/corpus -out DIR
//
// writes DIR/wheels/*.whl (hard links into the corpus cache, or copies),
// DIR/all.txt (a hashed requirements lock of every wheel) and
// DIR/flask.txt (the lock of Flask's dependency closure).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
)

func main() {
	out := flag.String("out", "", "output directory (required)")
	python := flag.String("python", "", "source interpreter (default $PIPBAKE_CORPUS_PYTHON or pyenv "+corpus.SourceVersion+")")
	cache := flag.String("cache", "", "corpus cache directory (default $PIPBAKE_CORPUS_DIR or ~/.cache/pipbake-dev/corpus/<tag>)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	log.SetFlags(0)
	log.SetPrefix("corpus: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *python, *cache); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out, python, cache string) error {
	start := time.Now()
	set, err := corpus.Repack(ctx, corpus.Options{Python: python, Dir: cache, Logf: log.Printf})
	if err != nil {
		return err
	}
	wheelDir := filepath.Join(out, "wheels")
	if err := os.MkdirAll(wheelDir, 0o755); err != nil {
		return err
	}
	if err := mirror(wheelDir, set.Wheels); err != nil {
		return err
	}
	if err := corpus.WriteRequirements(filepath.Join(out, "all.txt"), set.Wheels); err != nil {
		return err
	}
	flask, err := set.Closure(ctx, "flask")
	if err != nil {
		return err
	}
	if err := corpus.WriteRequirements(filepath.Join(out, "flask.txt"), flask); err != nil {
		return err
	}
	var total int64
	for _, w := range set.Wheels {
		total += w.Size
	}
	fmt.Printf("%d wheels (%.1f MiB) in %s\n", len(set.Wheels), float64(total)/(1<<20), wheelDir)
	fmt.Printf("all.txt: %d pins; flask.txt: %d pins (%s)\n", len(set.Wheels), len(flask), names(flask))
	for _, s := range set.Skipped {
		fmt.Printf("skipped: %s\n", s)
	}
	fmt.Printf("done in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// mirror makes dir hold exactly the given wheels, hard-linked from the
// cache where possible and copied otherwise.
func mirror(dir string, wheels []corpus.Wheel) error {
	want := map[string]bool{}
	for _, w := range wheels {
		want[w.File] = true
		dst := filepath.Join(dir, w.File)
		if same(dst, w.Path) {
			continue
		}
		os.Remove(dst)
		if err := os.Link(w.Path, dst); err == nil {
			continue
		}
		if err := copyFile(dst, w.Path); err != nil {
			return fmt.Errorf("copy %s: %w", w.File, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".whl") && !want[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func same(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

func names(ws []corpus.Wheel) string {
	var n []string
	for _, w := range ws {
		n = append(n, w.Name)
	}
	return strings.Join(n, ", ")
}
