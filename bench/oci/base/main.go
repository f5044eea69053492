// Command base makes the benchmark's base image (internal/debianbase: a
// cached debootstrap minbase with Python as an OCI layout) and pushes it
// to a registry:
//
//	go run ./bench/oci/base -push 127.0.0.1:5000/debian:bookworm-python
//
// It prints the layout folder.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pipbake/packer-plugin-pipbake/internal/debianbase"
	"github.com/pipbake/packer-plugin-pipbake/internal/ociimage"
)

func main() {
	push := flag.String("push", "", "registry reference to push the base to")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench/oci/base: ")
	layout, err := debianbase.Layout(context.Background(), debianbase.Options{Log: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	if *push != "" {
		b, err := ociimage.Open(ociimage.LayoutPrefix+layout, ociimage.WithKeychain(authn.NewMultiKeychain()))
		if err != nil {
			log.Fatal(err)
		}
		ref, err := ociimage.ParseReference(*push)
		if err != nil {
			log.Fatal(err)
		}
		if err := remote.Write(ref, b.Image); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(layout)
}
