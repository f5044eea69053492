package attest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// PackerFilePatterns are the Packer files a provenance names by default:
// those in Packer's working folder (Packer tells a plugin no template path
// for an HCL2 template, so this is the best a plugin can know unaided).
var PackerFilePatterns = []string{"*.pkr.hcl", "*.pkr.json", "*.pkrvars.hcl"}

// TemplateFiles reads paths and gives each by base name and sha256,
// sorted by path; with no paths, the PackerFilePatterns files in the
// working folder.
func TemplateFiles(paths []string) ([]File, error) {
	files := append([]string(nil), paths...)
	if len(files) == 0 {
		for _, pat := range PackerFilePatterns {
			m, _ := filepath.Glob(pat)
			files = append(files, m...)
		}
	}
	sort.Strings(files)
	var out []File
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read template file %s: %w", f, err)
		}
		out = append(out, File{Name: filepath.Base(f), SHA256: SHA256Hex(data)})
	}
	return out, nil
}

// CheckTemplateFiles makes paths absolute, in place, and checks each is a
// regular file (a Prepare step: the files are read when the provenance is
// made).
func CheckTemplateFiles(paths []string) error {
	for i, f := range paths {
		if abs, err := filepath.Abs(f); err == nil {
			paths[i] = abs
		}
		if st, err := os.Stat(paths[i]); err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("template_files: %s is not a file", f)
		}
	}
	return nil
}
