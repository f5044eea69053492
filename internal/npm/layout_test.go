package npm

import (
	"reflect"
	"testing"
)

// TestSplitScripts: a package scripts_allow names runs its scripts (when
// it has any, native build or not); one it does not name fails the
// install when npm would build it with node-gyp, and is listed as not run
// otherwise.
func TestSplitScripts(t *testing.T) {
	pkg := func(name string) *Package { return &Package{Name: name, Version: "1.0.0"} }
	esbuild := &pkgScripts{pkg: pkg("esbuild"), scripts: map[string]string{"postinstall": "node install.js"}}
	allowedGyp := &pkgScripts{pkg: pkg("bcrypt"), gyp: true, scripts: map[string]string{"install": "node-gyp rebuild"}}
	allowedNone := &pkgScripts{pkg: pkg("quiet"), gyp: true}
	gyp := &pkgScripts{pkg: pkg("sharp"), gyp: true}
	other := &pkgScripts{pkg: pkg("husky"), scripts: map[string]string{"postinstall": "husky install"}}

	run, notRun, needBuild := splitScripts([]*pkgScripts{esbuild, allowedGyp, allowedNone, gyp, other}, []string{"esbuild", "bcrypt", "quiet"})
	if !reflect.DeepEqual(run, []*pkgScripts{esbuild, allowedGyp}) {
		t.Errorf("run: %v", run)
	}
	if !reflect.DeepEqual(notRun, []string{"husky@1.0.0"}) {
		t.Errorf("not run: %q", notRun)
	}
	if len(needBuild) != 1 || needBuild[0] != gyp.pkg {
		t.Errorf("need a build: %v", needBuild)
	}

	if run, notRun, needBuild := splitScripts(nil, []string{"esbuild"}); run != nil || notRun != nil || needBuild != nil {
		t.Errorf("no scripts: %v %v %v", run, notRun, needBuild)
	}
}

// TestUnknownAllowed: scripts_allow names that no installed package has
// are listed, in their order.
func TestUnknownAllowed(t *testing.T) {
	pkgs := []*Package{{Name: "esbuild"}, {Name: "@scope/tool"}}
	got := unknownAllowed(pkgs, []string{"typo-esbuild", "esbuild", "@scope/tool", "sharp"})
	if !reflect.DeepEqual(got, []string{"typo-esbuild", "sharp"}) {
		t.Errorf("got %q", got)
	}
}
