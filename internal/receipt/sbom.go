package receipt

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/pyname"
)

// SBOM renders the set as a CycloneDX 1.5 JSON bill of materials: one
// library component per distribution (purl, wheel sha256, license), and the
// dependency graph among them from Requires-Dist. The set's component
// carries the receipt's lock, interpreter, installer and bytecode choice as
// pipbake: properties, so Verify can hold a receipt to its SBOM.
func (r *Receipt) SBOM() ([]byte, error) {
	type hash struct {
		Alg     string `json:"alg"`
		Content string `json:"content"`
	}
	type license struct {
		License *struct {
			Name string `json:"name"`
		} `json:"license,omitempty"`
		Expression string `json:"expression,omitempty"`
	}
	type property struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	type component struct {
		Type        string     `json:"type"`
		BOMRef      string     `json:"bom-ref"`
		Name        string     `json:"name"`
		Version     string     `json:"version"`
		Description string     `json:"description,omitempty"`
		PURL        string     `json:"purl,omitempty"`
		Hashes      []hash     `json:"hashes,omitempty"`
		Licenses    []license  `json:"licenses,omitempty"`
		Properties  []property `json:"properties,omitempty"`
	}
	type dependency struct {
		Ref       string   `json:"ref"`
		DependsOn []string `json:"dependsOn"`
	}
	type tool struct {
		Type    string `json:"type"`
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	type bom struct {
		BOMFormat    string `json:"bomFormat"`
		SpecVersion  string `json:"specVersion"`
		SerialNumber string `json:"serialNumber"`
		Version      int    `json:"version"`
		Metadata     struct {
			Timestamp string `json:"timestamp"`
			Tools     struct {
				Components []tool `json:"components"`
			} `json:"tools"`
			Component component `json:"component"`
		} `json:"metadata"`
		Components   []component  `json:"components"`
		Dependencies []dependency `json:"dependencies"`
	}
	var b bom
	b.BOMFormat, b.SpecVersion, b.Version = "CycloneDX", "1.5", 1
	b.Metadata.Timestamp = r.Created.UTC().Format(time.RFC3339)
	b.Metadata.Tools.Components = []tool{{Type: "application", Name: "pipbake", Version: r.Pipbake}}
	setRef := "pipbake-set:" + r.Set
	b.Metadata.Component = component{Type: "application", BOMRef: setRef, Name: r.Set, Version: r.Release,
		Properties: []property{{"pipbake:lock-sha256", r.Lock.SHA256}, {"pipbake:" + r.Runtime(), r.Interpreter.Version},
			{"pipbake:lock-path", r.Lock.Path}, {"pipbake:interpreter", r.Interpreter.Path}, {"pipbake:platform", r.Interpreter.Platform},
			{"pipbake:installer", r.Installer}, {"pipbake:compiled", strconv.FormatBool(r.Compiled)}}}
	refs := map[string]string{}   // by normalized name (Requires-Dist)
	byPath := map[string]string{} // by Path (DependsOn)
	bomRefs := r.bomRefs()
	for i, d := range r.Distributions {
		refs[pyname.Normalize(d.Name)] = bomRefs[i]
		if d.Path != "" {
			byPath[d.Path] = bomRefs[i]
		}
	}
	var top []string
	for i, d := range r.Distributions {
		c := component{Type: "library", BOMRef: bomRefs[i], Name: d.Name, Version: d.Version,
			Description: d.Summary, PURL: d.purl()}
		if d.SHA256 != "" {
			c.Hashes = append(c.Hashes, hash{"SHA-256", d.SHA256})
		}
		if alg, content, ok := sriHash(d.Integrity); ok {
			c.Hashes = append(c.Hashes, hash{alg, content})
		}
		for _, p := range [][2]string{{"pipbake:wheel", d.Wheel}, {"pipbake:path", d.Path}, {"pipbake:tarball", d.Tarball}, {"pipbake:kind", d.Kind}, {"pipbake:link", d.Link}} {
			if p[1] != "" {
				c.Properties = append(c.Properties, property{p[0], p[1]})
			}
		}
		if d.Dev {
			c.Properties = append(c.Properties, property{"pipbake:dev", "true"})
		}
		if d.Optional {
			c.Properties = append(c.Properties, property{"pipbake:optional", "true"})
		}
		if d.License != "" {
			var l license
			l.License = &struct {
				Name string `json:"name"`
			}{d.License}
			c.Licenses = []license{l}
		}
		b.Components = append(b.Components, c)
		deps := []string{}
		seen := map[string]bool{}
		for _, p := range d.DependsOn {
			if ref, ok := byPath[p]; ok && !seen[ref] {
				seen[ref] = true
				deps = append(deps, ref)
			}
		}
		for _, req := range d.RequiresDist {
			if ref, ok := refs[requirementName(req)]; ok && !seen[ref] && !strings.Contains(req, "extra ==") {
				seen[ref] = true
				deps = append(deps, ref)
			}
		}
		sort.Strings(deps)
		b.Dependencies = append(b.Dependencies, dependency{Ref: c.BOMRef, DependsOn: deps})
		top = append(top, c.BOMRef)
	}
	b.Dependencies = append([]dependency{{Ref: setRef, DependsOn: top}}, b.Dependencies...)
	body, err := json.Marshal(b.Components)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(r.Set+"\x00"+r.Release+"\x00"), body...))
	sum[6] = sum[6]&0x0f | 0x50 // a name-based (version 5 style) UUID
	sum[8] = sum[8]&0x3f | 0x80
	b.SerialNumber = fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func purl(name, version string) string {
	return "pkg:pypi/" + pyname.Normalize(name) + "@" + version
}

// purl is the distribution's Package URL: the one recorded, else PyPI's.
func (d Distribution) purl() string {
	if d.PURL != "" {
		return d.PURL
	}
	return purl(d.Name, d.Version)
}

// bomRefs are the distributions' bom-refs: each one's purl, and where one
// purl is installed at several paths (npm nests versions), the purl and
// the path.
func (r *Receipt) bomRefs() []string {
	n := map[string]int{}
	for _, d := range r.Distributions {
		n[d.purl()]++
	}
	out := make([]string, len(r.Distributions))
	for i, d := range r.Distributions {
		out[i] = d.purl()
		if n[out[i]] > 1 && d.Path != "" {
			out[i] += "#" + d.Path
		}
	}
	return out
}

// sriHash turns a Subresource Integrity value ("sha512-<base64>", the
// strongest of several) into a CycloneDX hash.
func sriHash(sri string) (alg, content string, ok bool) {
	names := map[string]string{"sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
	rank := map[string]int{"sha1": 1, "sha256": 2, "sha384": 3, "sha512": 4}
	best := 0
	for _, f := range strings.Fields(sri) {
		a, b64, found := strings.Cut(f, "-")
		if !found || rank[a] <= best {
			continue
		}
		if i := strings.IndexByte(b64, '?'); i >= 0 {
			b64 = b64[:i]
		}
		sum, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		best, alg, content, ok = rank[a], names[a], hex.EncodeToString(sum), true
	}
	return alg, content, ok
}

// requirementName extracts the normalized project name from a
// Requires-Dist value such as "Werkzeug>=3.1; python_version>'3.8'".
func requirementName(req string) string {
	end := len(req)
	for i, c := range req {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			end = i
			break
		}
	}
	return pyname.Normalize(req[:end])
}

// sbomFacts is what Verify compares of an SBOM with the receipt it was
// rendered from.
type sbomFacts struct {
	Metadata struct {
		Timestamp string `json:"timestamp"`
		Component struct {
			Name       string `json:"name"`
			Version    string `json:"version"`
			Properties []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"properties"`
		} `json:"component"`
	} `json:"metadata"`
	Components []struct {
		Name        string            `json:"name"`
		Version     string            `json:"version"`
		Description string            `json:"description"`
		PURL        string            `json:"purl"`
		Hashes      []json.RawMessage `json:"hashes"`
		Licenses    []json.RawMessage `json:"licenses"`
		Properties  []json.RawMessage `json:"properties"`
	} `json:"components"`
	Dependencies []json.RawMessage `json:"dependencies"`
}

// sbomDisagrees compares the SBOM data with the one r renders and names
// the first few facts they disagree on ("" when they agree). A set
// property the SBOM lacks is not compared (an SBOM written by an earlier
// pipbake), since the SBOM's own sha256 is checked separately.
func (r *Receipt) sbomDisagrees(data []byte) string {
	var got, want sbomFacts
	if err := json.Unmarshal(data, &got); err != nil {
		return "the SBOM is not valid JSON: " + err.Error()
	}
	rendered, err := r.SBOM()
	if err != nil {
		return "the receipt renders no SBOM: " + err.Error()
	}
	if err := json.Unmarshal(rendered, &want); err != nil {
		return err.Error()
	}
	var diffs []string
	diff := func(what, g, w string) {
		if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: SBOM %q, receipt %q", what, g, w))
		}
	}
	gm, wm := got.Metadata, want.Metadata
	diff("timestamp", gm.Timestamp, wm.Timestamp)
	diff("set", gm.Component.Name, wm.Component.Name)
	diff("release", gm.Component.Version, wm.Component.Version)
	props := map[string]string{}
	for _, p := range gm.Component.Properties {
		props[p.Name] = p.Value
	}
	for _, p := range wm.Component.Properties {
		if v, ok := props[p.Name]; ok {
			diff(p.Name, v, p.Value)
		}
	}
	if len(got.Components) != len(want.Components) {
		diffs = append(diffs, fmt.Sprintf("SBOM lists %d components, receipt %d distributions", len(got.Components), len(want.Components)))
	} else {
		for i, g := range got.Components {
			w := want.Components[i]
			diff("component name", g.Name, w.Name)
			diff(w.Name+" version", g.Version, w.Version)
			diff(w.Name+" purl", g.PURL, w.PURL)
			diff(w.Name+" description", g.Description, w.Description)
			diff(w.Name+" hashes", raw(g.Hashes), raw(w.Hashes))
			diff(w.Name+" licenses", raw(g.Licenses), raw(w.Licenses))
			diff(w.Name+" properties", raw(g.Properties), raw(w.Properties))
		}
	}
	diff("dependencies", raw(got.Dependencies), raw(want.Dependencies))
	if len(diffs) > 3 {
		diffs = append(diffs[:3], fmt.Sprintf("and %d more", len(diffs)-3))
	}
	return strings.Join(diffs, "; ")
}

// raw renders JSON values compactly, for comparison.
func raw(vs []json.RawMessage) string {
	var b strings.Builder
	for _, v := range vs {
		var buf bytes.Buffer
		if json.Compact(&buf, v) != nil {
			buf.Write(v)
		}
		b.Write(buf.Bytes())
		b.WriteByte(',')
	}
	return b.String()
}
