package wheelpack

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultTime is the entry timestamp used when SOURCE_DATE_EPOCH is unset:
// the earliest time a zip archive can record.
var DefaultTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// ModTime returns the timestamp for archive entries: SOURCE_DATE_EPOCH
// (seconds since the Unix epoch) when it is set and non-empty, otherwise
// DefaultTime. Times before 1980 are clamped to DefaultTime because zip
// cannot record them.
func ModTime() (time.Time, error) {
	s := strings.TrimSpace(os.Getenv("SOURCE_DATE_EPOCH"))
	if s == "" {
		return DefaultTime, nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse SOURCE_DATE_EPOCH=%q: %w", s, err)
	}
	return clampTime(time.Unix(sec, 0)), nil
}

// clampTime keeps t within what a zip's MS-DOS timestamp can hold, in UTC
// and at its two-second resolution, so every reader sees the same value.
func clampTime(t time.Time) time.Time {
	t = t.UTC()
	if t.Before(DefaultTime) {
		return DefaultTime
	}
	if max := time.Date(2107, time.December, 31, 23, 59, 58, 0, time.UTC); t.After(max) {
		return max
	}
	return t.Truncate(2 * time.Second)
}
