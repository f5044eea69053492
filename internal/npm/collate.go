package npm

// collateOrder is the primary order of printable ASCII in the root
// collation of Unicode's CLDR, which JavaScript's Intl.Collator("en")
// uses (and with it npm's localeCompare): punctuation and symbols, then
// digits, then letters, a letter's two cases alike.
const collateOrder = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ"

var primary, tertiary [128]int

func init() {
	w := 0
	for i := 0; i < len(collateOrder); i++ {
		c := collateOrder[i]
		if 'A' <= c && c <= 'Z' {
			primary[c] = primary[c+'a'-'A']
			tertiary[c] = 1
			continue
		}
		w++
		primary[c] = w
	}
}

// weight is a byte's primary weight; bytes beyond printable ASCII sort
// after it, by value.
func weight(c byte) int {
	if c < 128 && primary[c] > 0 {
		return primary[c]
	}
	return 1000 + int(c)
}

// localeCompare compares two strings as `a.localeCompare(b, "en")` does
// for the ASCII text of package names and paths: first by each
// character's primary weight ("-" before "." before digits before
// letters, case ignored), then lowercase before uppercase, position by
// position.
func localeCompare(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if wa, wb := weight(a[i]), weight(b[i]); wa != wb {
			if wa < wb {
				return -1
			}
			return 1
		}
	}
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	for i := 0; i < n; i++ {
		if a[i] < 128 && b[i] < 128 && tertiary[a[i]] != tertiary[b[i]] {
			return tertiary[a[i]] - tertiary[b[i]]
		}
	}
	return 0
}
