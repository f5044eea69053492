package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRestoreShebang(t *testing.T) {
	for in, want := range map[string]string{
		"#!/root/.pyenv/versions/3.11.7/bin/python\nimport sys\n":                              "#!python\nimport sys\n",
		"#!/usr/bin/python3.11 -E -s\r\nx\n":                                                   "#!python -E -s\nx\n",
		"#!/usr/bin/env python3\nprint(1)\n":                                                   "#!python\nprint(1)\n",
		"#!/bin/sh\n'''exec' \"/very/long/path/bin/python3\" \"$0\" \"$@\"\n' '''\nimport x\n": "#!python\nimport x\n",
		"#!/bin/sh\necho hi\n":                                                                 "#!/bin/sh\necho hi\n",
		"#!/usr/bin/env bash\n":                                                                "#!/usr/bin/env bash\n",
		"@echo off\r\npython x\n":                                                              "@echo off\r\npython x\n",
		"":                                                                                     "",
		"#!/usr/bin/python":                                                                    "#!python\n",
	} {
		if got := string(restoreShebang([]byte(in))); got != want {
			t.Errorf("restoreShebang(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScriptEntryPoints(t *testing.T) {
	p := filepath.Join(t.TempDir(), "entry_points.txt")
	os.WriteFile(p, []byte("[console_scripts]\nflask = flask.cli:main\n\n[gui_scripts]\n  viewer=v:main\n[pygments.lexers]\nipython = IPython.lib.lexers:IPythonLexer\n"), 0o644)
	got, err := scriptEntryPoints(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["flask"] || !got["viewer"] {
		t.Errorf("scriptEntryPoints = %v, want flask and viewer only", got)
	}
	if got, err := scriptEntryPoints(p + ".missing"); err != nil || len(got) != 0 {
		t.Errorf("missing file: %v, %v", got, err)
	}
}

func TestParseHeaders(t *testing.T) {
	h := parseHeaders([]byte("Metadata-Version: 2.1\nName: Flask\nVersion: 3.1.3\nSummary: a\n  continued\nName: Other\n\nName: body\n"))
	if h["name"] != "Flask" || h["version"] != "3.1.3" || h["summary"] != "a" {
		t.Errorf("parseHeaders = %v", h)
	}
}
