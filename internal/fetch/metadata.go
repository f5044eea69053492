package fetch

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxMetadataHeaders bounds how much of a METADATA file is read looking
// for its headers (the description after them is never read).
const maxMetadataHeaders = 1 << 20

// wheelRequiresPython reads the Requires-Python header of a wheel's
// METADATA ("" when it has none). The wheel must hold exactly one
// top-level .dist-info folder with a METADATA file, as install requires.
func wheelRequiresPython(p string) (string, error) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	var meta *zip.File
	for _, f := range zr.File {
		dir, base, ok := strings.Cut(f.Name, "/")
		if !ok || base != "METADATA" || !strings.HasSuffix(dir, ".dist-info") {
			continue
		}
		if meta != nil {
			return "", fmt.Errorf("it has two .dist-info/METADATA files (%s and %s)", meta.Name, f.Name)
		}
		meta = f
	}
	if meta == nil {
		return "", errors.New("it has no .dist-info/METADATA")
	}
	rc, err := meta.Open()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", meta.Name, err)
	}
	defer rc.Close()
	rp, err := metadataHeader(io.LimitReader(rc, maxMetadataHeaders), "Requires-Python")
	if err != nil {
		return "", fmt.Errorf("read %s: %w", meta.Name, err)
	}
	return rp, nil
}

// metadataHeader returns the value of a header of a core metadata file
// (RFC 822 style: "Name: value" lines, continuation lines starting with
// white space, the headers ending at the first empty line).
func metadataHeader(r io.Reader, name string) (string, error) {
	br := bufio.NewReader(r)
	var value string
	found := false
	for {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		trimmed := strings.TrimRight(line, "\r\n")
		if trimmed == "" {
			return printable(value), nil // an empty line ends the headers; so does the end
		}
		if trimmed[0] == ' ' || trimmed[0] == '\t' { // continues the header before
			if found {
				value += " " + strings.TrimSpace(trimmed)
			}
		} else {
			found = false
			if k, v, ok := strings.Cut(trimmed, ":"); ok && value == "" && strings.EqualFold(strings.TrimSpace(k), name) {
				value, found = strings.TrimSpace(v), true
			}
		}
		if err == io.EOF {
			return printable(value), nil
		}
	}
}

// printable makes a header value one line fit for messages: runs of white
// space become one space, other control characters "?".
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.Join(strings.Fields(s), " "))
}
