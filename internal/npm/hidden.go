package npm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HiddenLockName is npm's "hidden lockfile": the packages present in a
// node_modules folder, which npm (npm ls, npm install) trusts instead of
// reading every package.json when it is newer than every package folder.
const HiddenLockName = ".package-lock.json"

// swKeyOrder is the key order arborist's lockfiles put first, at every
// level (json-stringify-nice with this list).
var swKeyOrder = []string{"name", "version", "lockfileVersion", "resolved", "integrity", "requires", "packages", "dependencies"}

// HiddenLock renders node_modules/.package-lock.json for the packages
// laid out, as npm writes it after `npm ci`: the project's name and
// version, lockfileVersion 3, requires, and each installed entry as the
// lock has it (the project itself and left-out packages are not listed),
// keys ordered and text escaped as JSON.stringify through
// json-stringify-nice does, two-space indent.
func HiddenLock(l *Lock, pkgs []*Package) ([]byte, error) {
	top := []member{}
	if l.Root.Name != "" {
		top = append(top, member{"name", jstr(l.Root.Name)})
	}
	if l.Root.Version != "" {
		top = append(top, member{"version", jstr(l.Root.Version)})
	}
	top = append(top, member{"lockfileVersion", &jvalue{kind: 'n', text: "3"}}, member{"requires", &jvalue{kind: 'b', text: "true"}})
	packages := &jvalue{kind: 'o'}
	for _, p := range pkgs {
		v, err := parseJValue(p.Raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Path, err)
		}
		packages.obj = append(packages.obj, member{p.Path, v})
	}
	top = append(top, member{"packages", packages})
	var b bytes.Buffer
	writeNice(&b, &jvalue{kind: 'o', obj: top}, 0)
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// jvalue is a JSON value with its members in order and numbers as text.
type jvalue struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	text string
	obj  []member
	arr  []*jvalue
}

type member struct {
	key string
	val *jvalue
}

func jstr(s string) *jvalue { return &jvalue{kind: 's', text: s} }

func parseJValue(raw []byte) (*jvalue, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := readJValue(dec, 0)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func readJValue(dec *json.Decoder, depth int) (*jvalue, error) {
	if depth > MaxNesting {
		return nil, fmt.Errorf("JSON nested more than %d deep", MaxNesting)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := &jvalue{kind: 'o'}
			at := map[string]int{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				child, err := readJValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if i, dup := at[k]; dup { // JSON.parse keeps the last value
					v.obj[i].val = child
					continue
				}
				at[k] = len(v.obj)
				v.obj = append(v.obj, member{k, child})
			}
			_, err := dec.Token()
			return v, err
		case '[':
			v := &jvalue{kind: 'a'}
			for dec.More() {
				child, err := readJValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, child)
			}
			_, err := dec.Token()
			return v, err
		}
	case string:
		return jstr(t), nil
	case json.Number:
		return &jvalue{kind: 'n', text: jsNumber(t)}, nil
	case bool:
		return &jvalue{kind: 'b', text: strconv.FormatBool(t)}, nil
	case nil:
		return &jvalue{kind: 'z'}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// jsNumber prints a number as JavaScript would after JSON.parse.
func jsNumber(n json.Number) string {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return string(n)
	}
	if f == float64(int64(f)) && f < 1e21 && f > -1e21 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func isObj(v *jvalue) bool { return v.kind == 'o' }

// niceOrder sorts an object's members as json-stringify-nice does with
// swKeyOrder: members whose values are not objects first, then objects;
// within each, swKeyOrder's keys in its order, then the rest by
// localeCompare("en"). JavaScript then enumerates array-index keys first.
func niceOrder(members []member) []member {
	pref := func(k string) int {
		for i, p := range swKeyOrder {
			if p == k {
				return i
			}
		}
		return -1
	}
	out := append([]member(nil), members...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if isObj(a.val) != isObj(b.val) {
			return !isObj(a.val)
		}
		pa, pb := pref(a.key), pref(b.key)
		switch {
		case pa >= 0 && pb >= 0:
			return pa < pb
		case pa >= 0:
			return true
		case pb >= 0:
			return false
		}
		return localeCompare(a.key, b.key) < 0
	})
	kvs := make([]kv, len(out))
	byKey := map[string]*jvalue{}
	for i, m := range out {
		kvs[i] = kv{key: m.key}
		byKey[m.key] = m.val
	}
	kvs = jsObjectOrder(kvs)
	for i, p := range kvs {
		out[i] = member{p.key, byKey[p.key]}
	}
	return out
}

func writeNice(b *bytes.Buffer, v *jvalue, indent int) {
	switch v.kind {
	case 'o':
		if len(v.obj) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, m := range niceOrder(v.obj) {
			b.WriteString(strings.Repeat("  ", indent+1))
			writeJSString(b, m.key)
			b.WriteString(": ")
			writeNice(b, m.val, indent+1)
			if i < len(v.obj)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("  ", indent))
		b.WriteByte('}')
	case 'a':
		if len(v.arr) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range v.arr {
			b.WriteString(strings.Repeat("  ", indent+1))
			writeNice(b, e, indent+1)
			if i < len(v.arr)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("  ", indent))
		b.WriteByte(']')
	case 's':
		writeJSString(b, v.text)
	case 'z':
		b.WriteString("null")
	default:
		b.WriteString(v.text)
	}
}

// writeJSString writes s quoted as JSON.stringify does: only '"', '\\'
// and control characters are escaped (\b \f \n \r \t, else \u00xx).
func writeJSString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				if c < 0x20 {
					fmt.Fprintf(b, `\u%04x`, c)
				} else {
					b.WriteByte(c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}
