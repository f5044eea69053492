package lock

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Limits on what a lock file may hold, so that hostile input fails with a
// clear error naming the file and line instead of exhausting memory or
// the stack. Real locks are far below them (the largest line of the
// real-world locks under testdata/peer/locks is 491 bytes).
const (
	// MaxFileBytes is the largest lock file read.
	MaxFileBytes = 32 << 20
	// MaxLineBytes is the longest physical line.
	MaxLineBytes = 64 << 10
	// MaxNesting is the deepest nesting of TOML arrays and inline tables
	// (the TOML decoder recurses on each).
	MaxNesting = 32
	// MaxProblems is how many problems (and warnings) a file reports; a
	// count of the others follows them.
	MaxProblems = 20
	// maxMessage bounds one message; maxQuoted how much of an input value
	// a message repeats.
	maxMessage = 2048
	maxQuoted  = 120
)

// checkLines refuses a file with a line longer than MaxLineBytes.
func checkLines(path string, data []byte) error {
	line := 1
	for len(data) > 0 {
		n := bytes.IndexByte(data, '\n')
		if n < 0 {
			n = len(data)
		}
		if n > MaxLineBytes {
			return &Error{File: path, Line: line, Msg: fmt.Sprintf("line %d is %d bytes long; a lock file's lines may be at most %d bytes", line, n, MaxLineBytes)}
		}
		data = data[min(n+1, len(data)):]
		line++
	}
	return nil
}

// checkTOMLNesting refuses TOML text whose arrays and inline tables nest
// deeper than MaxNesting, before the decoder recurses into them. It reads
// just enough TOML to skip strings and comments; the decoder reports any
// other syntax error.
func checkTOMLNesting(path, text string) error {
	depth, line := 0, 1
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '\n':
			line++
		case '#':
			for i+1 < len(text) && text[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			delim := string(c)
			if len(text)-i >= 3 && text[i:i+3] == delim+delim+delim {
				delim += delim + delim
			}
			i += len(delim)
			for i < len(text) {
				if text[i] == '\n' {
					if len(delim) == 1 {
						break // unterminated: the decoder says so
					}
					line++
				}
				if c == '"' && text[i] == '\\' {
					if i+1 < len(text) && text[i+1] == '\n' {
						line++
					}
					i += 2
					continue
				}
				if len(text)-i >= len(delim) && text[i:i+len(delim)] == delim {
					// A multi-line string may end with up to two more quotes.
					for len(delim) == 3 && i+3 < len(text) && text[i+3] == c {
						i++
					}
					i += len(delim) - 1
					break
				}
				i++
			}
			if i < len(text) && text[i] == '\n' {
				line++
			}
		case '[', '{':
			depth++
			if depth > MaxNesting {
				return &Error{File: path, Line: line, Msg: fmt.Sprintf("arrays and inline tables nested more than %d deep", MaxNesting)}
			}
		case ']', '}':
			depth = max(0, depth-1)
		}
	}
	return nil
}

// shorten cuts a long value for a message.
func shorten(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// capMessage cuts a whole message to maxMessage bytes.
func capMessage(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "... (message cut, " + strconv.Itoa(len(s)) + " bytes)"
}

// capWarnings keeps the first MaxProblems warnings and counts the rest.
func capWarnings(ws []string) []string {
	for i, w := range ws {
		ws[i] = capMessage(w)
	}
	if len(ws) <= MaxProblems {
		return ws
	}
	return append(ws[:MaxProblems:MaxProblems], fmt.Sprintf("... and %d more warnings", len(ws)-MaxProblems))
}
