package plan

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Limits on a plan file. HCL's parsers and evaluator recurse once per
// nesting level (parentheses, brackets, braces, templates, unary
// operators, conditionals) and once per operator of a chain, so these are
// checked on the tokens before HCL parses anything; a real plan is far
// below them.
const (
	// MaxPlanBytes is the largest plan file read.
	MaxPlanBytes = 1 << 20
	// MaxNesting is the deepest nesting of expressions and JSON values.
	MaxNesting = 64
	// MaxChain is the longest chain of operators in one expression.
	MaxChain = 256
)

var (
	opens = map[hclsyntax.TokenType]bool{
		hclsyntax.TokenOParen: true, hclsyntax.TokenOBrack: true, hclsyntax.TokenOBrace: true,
		hclsyntax.TokenOQuote: true, hclsyntax.TokenOHeredoc: true,
		hclsyntax.TokenTemplateInterp: true, hclsyntax.TokenTemplateControl: true,
	}
	closes = map[hclsyntax.TokenType]bool{
		hclsyntax.TokenCParen: true, hclsyntax.TokenCBrack: true, hclsyntax.TokenCBrace: true,
		hclsyntax.TokenCQuote: true, hclsyntax.TokenCHeredoc: true, hclsyntax.TokenTemplateSeqEnd: true,
	}
	operators = map[hclsyntax.TokenType]bool{
		hclsyntax.TokenPlus: true, hclsyntax.TokenMinus: true, hclsyntax.TokenStar: true,
		hclsyntax.TokenSlash: true, hclsyntax.TokenPercent: true, hclsyntax.TokenBang: true,
		hclsyntax.TokenEqualOp: true, hclsyntax.TokenNotEqual: true, hclsyntax.TokenLessThan: true,
		hclsyntax.TokenLessThanEq: true, hclsyntax.TokenGreaterThan: true, hclsyntax.TokenGreaterThanEq: true,
		hclsyntax.TokenAnd: true, hclsyntax.TokenOr: true, hclsyntax.TokenQuestion: true,
		hclsyntax.TokenColon: true, hclsyntax.TokenDot: true, hclsyntax.TokenEllipsis: true,
	}
)

// checkLimits refuses a plan beyond the limits, naming the file and line.
func checkLimits(path string, src []byte, isJSON bool) error {
	if len(src) > MaxPlanBytes {
		return fmt.Errorf("%s: the plan is %d bytes; the limit is %d", path, len(src), MaxPlanBytes)
	}
	if isJSON {
		return checkJSON(path, src)
	}
	toks, _ := hclsyntax.LexConfig(src, path, hcl.InitialPos) // syntax errors are the parser's to report
	return checkTokens(path, toks, 0)
}

// checkTokens bounds nesting and operator chains in HCL tokens. Unary
// operators (a run of - or !) and conditionals (each ?) nest like
// parentheses; a chain counts the operators since the last separator.
func checkTokens(path string, toks hclsyntax.Tokens, depth0 int) error {
	type level struct{ questions, chain int }
	depth := depth0
	var stack []level
	var cur level
	unary := 0
	for _, t := range toks {
		switch {
		case opens[t.Type]:
			stack = append(stack, cur)
			cur = level{}
			depth++
		case closes[t.Type]:
			if len(stack) > 0 {
				cur = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				depth--
			}
		case operators[t.Type]:
			cur.chain++
			if t.Type == hclsyntax.TokenQuestion {
				cur.questions++
			}
		case t.Type == hclsyntax.TokenNewline || t.Type == hclsyntax.TokenComma:
			cur = level{}
		}
		if t.Type == hclsyntax.TokenMinus || t.Type == hclsyntax.TokenBang {
			unary++
		} else {
			unary = 0
		}
		nest := depth
		for _, l := range stack {
			nest += l.questions
		}
		switch {
		case nest+cur.questions+unary > MaxNesting:
			return fmt.Errorf("%s:%d: expressions nested more than %d deep", path, t.Range.Start.Line, MaxNesting)
		case cur.chain > MaxChain:
			return fmt.Errorf("%s:%d: more than %d operators in one expression", path, t.Range.Start.Line, MaxChain)
		}
	}
	return nil
}

// checkJSON bounds the nesting of JSON arrays and objects and checks each
// string as the HCL template HCL's JSON syntax may read it as.
func checkJSON(path string, src []byte) error {
	depth, line := 0, 1
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '\n':
			line++
		case '[', '{':
			depth++
			if depth > MaxNesting {
				return fmt.Errorf("%s:%d: arrays and objects nested more than %d deep", path, line, MaxNesting)
			}
		case ']', '}':
			depth = max(0, depth-1)
		case '"':
			start := i + 1
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
			// HCL reads the string's value (escapes decoded) as a template.
			var s string
			if i >= len(src) || json.Unmarshal(src[start-1:i+1], &s) != nil {
				continue // not a valid string: the parser says so
			}
			toks, _ := hclsyntax.LexTemplate([]byte(s), path, hcl.Pos{Line: line, Column: 1, Byte: start})
			if err := checkTokens(path, toks, depth); err != nil {
				return err
			}
		}
	}
	return nil
}
