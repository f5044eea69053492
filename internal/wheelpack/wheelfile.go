package wheelpack

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// WheelInfo is the content of a .dist-info/WHEEL file.
type WheelInfo struct {
	WheelVersion  string
	Generator     string
	RootIsPurelib bool
	Tags          []string
	Build         string
}

// ParseWHEEL parses a WHEEL file (RFC 822 style "Key: value" lines).
func ParseWHEEL(data []byte) (WheelInfo, error) {
	var w WheelInfo
	purelib := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		key, val, ok := strings.Cut(text, ":")
		if !ok {
			return WheelInfo{}, fmt.Errorf("parse WHEEL: line %d: no ':' in %q", line, text)
		}
		val = strings.TrimSpace(val)
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "wheel-version":
			w.WheelVersion = val
		case "generator":
			w.Generator = val
		case "root-is-purelib":
			purelib = strings.ToLower(val)
		case "tag":
			w.Tags = append(w.Tags, val)
		case "build":
			w.Build = val
		}
	}
	if err := sc.Err(); err != nil {
		return WheelInfo{}, fmt.Errorf("parse WHEEL: %w", err)
	}
	switch {
	case w.WheelVersion == "":
		return WheelInfo{}, fmt.Errorf("parse WHEEL: no Wheel-Version")
	case !strings.HasPrefix(w.WheelVersion, "1."):
		return WheelInfo{}, fmt.Errorf("parse WHEEL: unsupported Wheel-Version %q", w.WheelVersion)
	case purelib != "true" && purelib != "false":
		return WheelInfo{}, fmt.Errorf("parse WHEEL: Root-Is-Purelib is %q, want true or false", purelib)
	}
	w.RootIsPurelib = purelib == "true"
	return w, nil
}
