package registry

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

func tarOf(entries ...string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(entries); i += 2 {
		tw.WriteHeader(&tar.Header{Name: entries[i], Mode: 0o644, Size: int64(len(entries[i+1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(entries[i+1]))
	}
	tw.Close()
	return buf.Bytes()
}

// FuzzReadReceiptsLayer: a hostile layer cannot crash the reader, and what
// it finds is only <name>.json files of the receipts folder, within the
// size limit.
func FuzzReadReceiptsLayer(f *testing.F) {
	f.Add(tarOf("var/lib/pipbake/receipts/api.json", `{"schema":1}`, "etc/passwd", "root"))
	f.Add(tarOf("./var/lib/pipbake/receipts/../receipts/x.json", "{}", "var/lib/pipbake/receipts/.wh.old.json", "", "var/lib/pipbake/receipts/.wh..wh..opq", ""))
	f.Add(tarOf("/var/lib/pipbake/receipts/a.cdx.json", "{}", "var/lib/pipbake/receipts/sub/b.json", "{}"))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		found := map[string][]byte{}
		whiteouts, _, err := readReceiptsLayer(bytes.NewReader(data), found, map[string]bool{})
		if err != nil {
			return
		}
		for name, content := range found {
			if strings.Contains(name, "/") || !strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".cdx.json") || strings.HasPrefix(name, ".") {
				t.Fatalf("found %q", name)
			}
			if len(content) > maxReceiptBytes {
				t.Fatalf("%s: %d bytes", name, len(content))
			}
		}
		for _, w := range whiteouts {
			if strings.Contains(w, "/") {
				t.Fatalf("whiteout %q", w)
			}
		}
	})
}
