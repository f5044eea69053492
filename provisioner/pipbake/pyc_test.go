package pipbake

import (
	"path/filepath"
	"testing"

	"github.com/pipbake/packer-plugin-pipbake/internal/bake"
)

// TestBytecodeCacheDefault: bytecode_cache wins; else the folder a
// builder on the Packer host names; else Packer's cache folder.
func TestBytecodeCacheDefault(t *testing.T) {
	packerCache := t.TempDir()
	t.Setenv("PACKER_CACHE_DIR", packerCache)
	fromBuilder := map[string]interface{}{bake.GeneratedBytecodeCache: "/builder/cache"}
	for _, c := range []struct {
		configured string
		generated  map[string]interface{}
		want       string
	}{
		{"/mine", fromBuilder, "/mine"},
		{"off", fromBuilder, "off"},
		{"", fromBuilder, "/builder/cache"},
		{"", map[string]interface{}{"ConnType": "ssh"}, filepath.Join(packerCache, "pipbake", "bytecode")},
		{"", nil, filepath.Join(packerCache, "pipbake", "bytecode")},
	} {
		if got := bytecodeCache(c.configured, c.generated); got != c.want {
			t.Errorf("bytecodeCache(%q, %v) = %q, want %q", c.configured, c.generated, got, c.want)
		}
	}
}
