package version

import "testing"

func TestString(t *testing.T) {
	defer func(v, p, m string) { Version, Prerelease, Metadata = v, p, m }(Version, Prerelease, Metadata)
	for _, tc := range []struct{ v, p, m, want string }{
		{"0.1.0", "", "dev", "0.1.0+dev"}, // from source
		{"1.2.3", "", "", "1.2.3"},        // a release
		{"1.2.3", "rc.1", "", "1.2.3-rc.1"},
		{"0.1.1", "dev", "", "0.1.1-dev"},    // a goreleaser snapshot
		{"9.8.7", "dev", "dev", "9.8.7-dev"}, // a prerelease built with the default metadata
	} {
		Version, Prerelease, Metadata = tc.v, tc.p, tc.m
		if got := String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc, got, tc.want)
		}
	}
}
