package marker

import (
	"fmt"
	"slices"
	"strconv"
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
	text string // string contents without quotes, identifier or operator
	pos  int
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of marker"
	case tokString:
		return "string " + strconv.Quote(t.text)
	case tokLParen, tokRParen, tokOp:
		return strconv.Quote(t.text)
	}
	return "word " + strconv.Quote(t.text)
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) errorAt(t token, msg string) error {
	return &SyntaxError{Marker: p.src, Pos: t.pos, Msg: msg}
}

func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			p.toks = append(p.toks, token{tokLParen, "(", i})
			i++
		case c == ')':
			p.toks = append(p.toks, token{tokRParen, ")", i})
			i++
		case c == '"' || c == '\'':
			end := i + 1
			for end < len(s) && s[end] != c {
				end++
			}
			if end == len(s) {
				return &SyntaxError{Marker: s, Pos: i, Msg: "unterminated string"}
			}
			p.toks = append(p.toks, token{tokString, s[i+1 : end], i})
			i = end + 1
		case c == '=' || c == '!' || c == '<' || c == '>' || c == '~':
			op := ""
			for _, cand := range []string{"===", "==", "!=", "<=", ">=", "~=", "<", ">"} {
				if len(s)-i >= len(cand) && s[i:i+len(cand)] == cand {
					op = cand
					break
				}
			}
			if op == "" {
				return &SyntaxError{Marker: s, Pos: i, Msg: fmt.Sprintf("invalid operator starting with %q", c)}
			}
			p.toks = append(p.toks, token{tokOp, op, i})
			i += len(op)
		case isIdentByte(c):
			end := i
			for end < len(s) && (isIdentByte(s[end]) || s[end] == '.') {
				end++
			}
			p.toks = append(p.toks, token{tokIdent, s[i:end], i})
			i = end
		default:
			return &SyntaxError{Marker: s, Pos: i, Msg: fmt.Sprintf("unexpected character %q", c)}
		}
	}
	p.toks = append(p.toks, token{tokEOF, "", len(s)})
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tokIdent && t.text == w
}

// parseOr: and ("or" and)*
func (p *parser) parseOr() (node, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = &boolNode{or: true, left: left, right: right}
	}
	return left, nil
}

// parseAnd: atom ("and" atom)*
func (p *parser) parseAnd() (node, error) {
	left, err := p.parseAtom()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.next()
		right, err := p.parseAtom()
		if err != nil {
			return nil, err
		}
		left = &boolNode{left: left, right: right}
	}
	return left, nil
}

// parseAtom: "(" or ")" | value op value
func (p *parser) parseAtom() (node, error) {
	if p.peek().kind == tokLParen {
		open := p.next()
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
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
	return &cmpNode{left: left, op: op, right: right}, nil
}

func (p *parser) parseOperand() (operand, error) {
	t := p.next()
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
			return operand{}, p.errorAt(t, fmt.Sprintf("unknown variable %q", t.text))
		}
		return operand{text: name, isVar: true}, nil
	}
	return operand{}, p.errorAt(t, fmt.Sprintf("expected a variable or a quoted string, found %s", t.describe()))
}

func (p *parser) parseOp() (string, error) {
	t := p.next()
	switch {
	case t.kind == tokOp:
		return t.text, nil
	case t.kind == tokIdent && t.text == "in":
		return "in", nil
	case t.kind == tokIdent && t.text == "not":
		if in := p.next(); in.kind != tokIdent || in.text != "in" {
			return "", p.errorAt(in, fmt.Sprintf("expected \"in\" after \"not\", found %s", in.describe()))
		}
		return "not in", nil
	}
	return "", p.errorAt(t, fmt.Sprintf("expected a comparison operator (== != < <= > >= ~= === in, not in), found %s", t.describe()))
}
