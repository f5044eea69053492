package marker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokLParen
	tokRParen
	tokString
	tokIdent
	tokOp
)

type token struct {
	kind tokKind
	text string // the decoded string, identifier or operator
	pos  int
}

func (t token) describe() string {
	text := t.text
	if len(text) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "..."
	}
	switch t.kind {
	case tokEOF:
		return "end of marker"
	case tokString:
		return "string " + strconv.Quote(text)
	case tokLParen, tokRParen, tokOp:
		return strconv.Quote(text)
	}
	return "word " + strconv.Quote(text)
}

// parser reads a marker one token ahead; it never holds more tokens, so
// memory stays proportional to the expression, not to its punctuation.
type parser struct {
	src string
	pos int   // where the next token starts to be read
	tok token // the lookahead
}

func (p *parser) errorAt(t token, msg string) error {
	return &SyntaxError{Marker: p.src, Pos: t.pos, Msg: msg}
}

// advance reads the next token into p.tok. Only spaces and tabs separate
// tokens (a line break is an error, as in packaging 26.3).
func (p *parser) advance() error {
	s := p.src
	i := p.pos
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i == len(s) {
		p.tok, p.pos = token{tokEOF, "", len(s)}, i
		return nil
	}
	c := s[i]
	var t token
	switch {
	case c == '(':
		t = token{tokLParen, "(", i}
	case c == ')':
		t = token{tokRParen, ")", i}
	case c == '"' || c == '\'':
		end := strings.IndexByte(s[i+1:], c)
		if end < 0 {
			return &SyntaxError{Marker: s, Pos: i, Msg: "unterminated string"}
		}
		end += i + 1
		text, err := decodeString(s[i+1 : end])
		if err != nil {
			return &SyntaxError{Marker: s, Pos: i, Msg: "invalid quoted string: " + err.Error()}
		}
		p.tok, p.pos = token{tokString, text, i}, end+1
		return nil
	case c == '=' || c == '!' || c == '<' || c == '>' || c == '~':
		for _, op := range []string{"===", "==", "!=", "<=", ">=", "~=", "<", ">"} {
			if strings.HasPrefix(s[i:], op) {
				t = token{tokOp, op, i}
				break
			}
		}
		if t.text == "" {
			return &SyntaxError{Marker: s, Pos: i, Msg: fmt.Sprintf("invalid operator starting with %q", c)}
		}
	case isIdentByte(c):
		end := i
		for end < len(s) && (isIdentByte(s[end]) || s[end] == '.') {
			end++
		}
		t = token{tokIdent, s[i:end], i}
	case c == '\n' || c == '\r':
		return &SyntaxError{Marker: s, Pos: i, Msg: "line break in marker"}
	default:
		r, _ := utf8.DecodeRuneInString(s[i:])
		return &SyntaxError{Marker: s, Pos: i, Msg: fmt.Sprintf("unexpected character %q", r)}
	}
	p.tok, p.pos = t, i+len(t.text)
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// decodeString turns the text between a marker string's quotes into its
// value the way Python reads a string literal (packaging evaluates it as
// one): backslash escapes are processed, an unknown escape keeps its
// backslash, and a raw line break or NUL, a bad \x, \u or \U escape, or a
// trailing backslash is an error. \N{name} escapes and lone surrogates
// are refused.
func decodeString(raw string) (string, error) {
	if strings.IndexByte(raw, '\\') < 0 {
		if i := strings.IndexAny(raw, "\n\r\x00"); i >= 0 {
			return "", fmt.Errorf("%q inside a string", raw[i])
		}
		return raw, nil
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '\n', '\r', 0:
			return "", fmt.Errorf("%q inside a string", c)
		case '\\':
		default:
			b.WriteByte(c)
			continue
		}
		if i+1 == len(raw) {
			return "", fmt.Errorf("a backslash escapes the closing quote")
		}
		i++
		switch e := raw[i]; e {
		case '\n': // line continuation
		case '\r':
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n, j := 0, i
			for ; j < len(raw) && j < i+3 && '0' <= raw[j] && raw[j] <= '7'; j++ {
				n = n*8 + int(raw[j]-'0')
			}
			b.WriteRune(rune(n))
			i = j - 1
		case 'x', 'u', 'U':
			digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			hex := raw[i+1 : min(len(raw), i+1+digits)]
			if len(hex) < digits || strings.Trim(hex, "0123456789abcdefABCDEF") != "" {
				return "", fmt.Errorf("invalid \\%c escape: want %d hex digits", e, digits)
			}
			n, _ := strconv.ParseUint(hex, 16, 32)
			r := rune(n)
			if r > utf8.MaxRune || 0xd800 <= r && r <= 0xdfff {
				return "", fmt.Errorf("\\%c escape %s is not a Unicode scalar value", e, hex)
			}
			b.WriteRune(r)
			i += digits
		case 'N':
			return "", fmt.Errorf("\\N{...} escapes are not supported")
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String(), nil
}

func (p *parser) peek() token { return p.tok }

// next returns the lookahead and reads the token after it.
func (p *parser) next() (token, error) {
	t := p.tok
	if t.kind == tokEOF {
		return t, nil
	}
	return t, p.advance()
}

func (p *parser) isWord(w string) bool {
	return p.tok.kind == tokIdent && p.tok.text == w
}

// parseOr: and ("or" and)*
func (p *parser) parseOr(depth int) (node, error) {
	first, err := p.parseAnd(depth)
	if err != nil {
		return nil, err
	}
	items := []node{first}
	for p.isWord("or") {
		if _, err := p.next(); err != nil {
			return nil, err
		}
		right, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		items = append(items, right)
	}
	if len(items) == 1 {
		return first, nil
	}
	return &boolNode{or: true, items: items}, nil
}

// parseAnd: atom ("and" atom)*
func (p *parser) parseAnd(depth int) (node, error) {
	first, err := p.parseAtom(depth)
	if err != nil {
		return nil, err
	}
	items := []node{first}
	for p.isWord("and") {
		if _, err := p.next(); err != nil {
			return nil, err
		}
		right, err := p.parseAtom(depth)
		if err != nil {
			return nil, err
		}
		items = append(items, right)
	}
	if len(items) == 1 {
		return first, nil
	}
	return &boolNode{items: items}, nil
}

// parseAtom: "(" or ")" | value op value
func (p *parser) parseAtom(depth int) (node, error) {
	if p.peek().kind == tokLParen {
		open := p.peek()
		if depth >= MaxDepth {
			return nil, p.errorAt(open, fmt.Sprintf("parentheses nested more than %d deep", MaxDepth))
		}
		if _, err := p.next(); err != nil {
			return nil, err
		}
		n, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if t.kind != tokRParen {
			return nil, p.errorAt(t, fmt.Sprintf("expected \")\" to close \"(\" at position %d, found %s", open.pos+1, t.describe()))
		}
		return n, nil
	}
	left, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	op, err := p.parseOp()
	if err != nil {
		return nil, err
	}
	right, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	n := &cmpNode{left: left, op: op, right: right}
	n.normalizeNames()
	return n, nil
}

func (p *parser) parseOperand() (operand, error) {
	t, err := p.next()
	if err != nil {
		return operand{}, err
	}
	switch t.kind {
	case tokString:
		return operand{text: t.text}, nil
	case tokIdent:
		name := t.text
		if a, ok := aliases[name]; ok {
			name = a
		}
		switch {
		case slices.Contains(Variables, name):
		case name == "and" || name == "or" || name == "not" || name == "in":
			return operand{}, p.errorAt(t, fmt.Sprintf("expected a variable or a quoted string, found %s", t.describe()))
		case '0' <= name[0] && name[0] <= '9':
			return operand{}, p.errorAt(t, fmt.Sprintf("value %s must be quoted", name))
		default:
			return operand{}, p.errorAt(t, fmt.Sprintf("unknown variable %s", strconv.Quote(t.text)))
		}
		return operand{text: name, isVar: true}, nil
	}
	return operand{}, p.errorAt(t, fmt.Sprintf("expected a variable or a quoted string, found %s", t.describe()))
}

func (p *parser) parseOp() (string, error) {
	t, err := p.next()
	if err != nil {
		return "", err
	}
	switch {
	case t.kind == tokOp:
		return t.text, nil
	case t.kind == tokIdent && t.text == "in":
		return "in", nil
	case t.kind == tokIdent && t.text == "not":
		in, err := p.next()
		if err != nil {
			return "", err
		}
		if in.kind != tokIdent || in.text != "in" {
			return "", p.errorAt(in, fmt.Sprintf("expected \"in\" after \"not\", found %s", in.describe()))
		}
		return "not in", nil
	}
	return "", p.errorAt(t, fmt.Sprintf("expected a comparison operator (== != < <= > >= ~= === in, not in), found %s", t.describe()))
}
