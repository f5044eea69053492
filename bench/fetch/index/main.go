// Command index writes a static PEP 503 / PEP 691 index of a folder of
// wheels (see internal/fetch/fetchtest), for bench/fetch:
//
//	go run ./bench/fetch/index -wheels DIR -out ROOT
//
// ROOT/files/, ROOT/simple/<project>/index.html, ROOT/json/<project>/index.json.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/pipbake/packer-plugin-pipbake/internal/fetch/fetchtest"
)

func main() {
	wheels := flag.String("wheels", "", "folder of wheels (required)")
	out := flag.String("out", "", "index root to write (required)")
	flag.Parse()
	if *wheels == "" || *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	paths, err := filepath.Glob(filepath.Join(*wheels, "*.whl"))
	if err != nil {
		log.Fatal(err)
	}
	var files []fetchtest.File
	for _, p := range paths {
		files = append(files, fetchtest.File{Path: p})
	}
	idx, err := fetchtest.WriteIndex(*out, files)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("index of %d files in %s\n", len(idx.Files), *out)
}
