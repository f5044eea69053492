package npm

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// normalizeBin reads a "bin" value as npm-normalize-package-bin does: a
// string is the one program named after the package, a list names each
// program after its file, an object maps names to files; names are
// reduced to their last path segment and files to paths inside the
// package ("../../x" is "x"); entries left empty are dropped. When two
// keys reduce to one name, the later (in JavaScript's key order) wins.
func normalizeBin(pkgName string, raw json.RawMessage) (map[string]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var pairs []kv
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if pkgName == "" {
			return nil, nil
		}
		pairs = []kv{{pkgName, mustJSON(s)}}
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		for _, item := range list {
			var s string
			if json.Unmarshal(item, &s) != nil {
				return nil, fmt.Errorf("a list of bins holds a non-string")
			}
			pairs = append(pairs, kv{jsBasename(s), item})
		}
		pairs = jsObjectOrder(pairs)
	case '{':
		var err error
		if pairs, err = decodeObject(raw); err != nil {
			return nil, err
		}
	default:
		return nil, nil // npm drops a bin of another type
	}
	out := map[string]string{}
	for _, p := range pairs {
		base := strings.TrimPrefix(jsJoinRoot(jsBasename(strings.NewReplacer("\\", "/", ":", "/").Replace(p.key))), "/")
		var val string
		if json.Unmarshal(p.val, &val) != nil || base == "" {
			continue
		}
		target := strings.TrimPrefix(jsJoinRoot(strings.ReplaceAll(val, "\\", "/")), "/")
		if target == "" {
			continue
		}
		out[base] = target
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// jsBasename is node's path.posix.basename: the last segment, trailing
// slashes ignored.
func jsBasename(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// jsJoinRoot is node's path.posix.join("/", p): p normalised as an
// absolute path (no "." or ".." segments, no empty ones, never above
// "/"), a trailing slash kept.
func jsJoinRoot(p string) string {
	trailing := strings.HasSuffix(p, "/")
	var out []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	s := "/" + strings.Join(out, "/")
	if trailing && s != "/" {
		s += "/"
	}
	return s
}

// kv is one member of a JSON object.
type kv struct {
	key string
	val json.RawMessage
}

// decodeObject reads a JSON object's members in JavaScript's order (what
// JSON.parse gives): integer-like keys first, ascending, then the others
// in the order of the text; a repeated key keeps its first place and its
// last value.
func decodeObject(raw json.RawMessage) ([]kv, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var out []kv
	at := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		if i, ok := at[key]; ok {
			out[i].val = val
			continue
		}
		at[key] = len(out)
		out = append(out, kv{key, val})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return jsObjectOrder(out), nil
}

// jsObjectOrder orders members as a JavaScript object enumerates them:
// array-index keys ("0", "17", below 2³²-1) first, ascending, then the
// rest as they were. Repeated keys keep the first place and last value.
func jsObjectOrder(in []kv) []kv {
	var idx, rest []kv
	at := map[string]int{}
	for _, p := range in {
		if i, ok := at[p.key]; ok {
			if i >= 0 {
				rest[i].val = p.val
			} else {
				idx[-i-1].val = p.val
			}
			continue
		}
		if _, ok := arrayIndex(p.key); ok {
			at[p.key] = -len(idx) - 1
			idx = append(idx, p)
		} else {
			at[p.key] = len(rest)
			rest = append(rest, p)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool {
		x, _ := arrayIndex(idx[a].key)
		y, _ := arrayIndex(idx[b].key)
		return x < y
	})
	return append(idx, rest...)
}

// arrayIndex reports whether k is a canonical array index.
func arrayIndex(k string) (uint64, bool) {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(k[i]-'0')
	}
	return n, n < 1<<32-1
}
