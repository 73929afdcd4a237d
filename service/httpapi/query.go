package httpapi

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// query reads a request's parameters strictly: unknown or repeated names are errors, so a typo such as
// ?second=30 is a 400 and not a silent default.
type query struct{ v url.Values }

func parseQuery(raw string, allowed ...string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, fmt.Errorf("malformed query string: %v", err)
	}
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !slices.Contains(allowed, k) {
			return query{}, fmt.Errorf("unknown parameter %q (allowed: %s)", clip(k), strings.Join(allowed, ", "))
		}
		if n := len(v[k]); n > 1 {
			return query{}, fmt.Errorf("parameter %q given %d times", clip(k), n)
		}
	}
	return query{v}, nil
}

// seconds reads a positive number of seconds up to max (fractions allowed), or def when absent.
func (q query) seconds(name string, def, max time.Duration) (time.Duration, error) {
	s, ok := q.get(name)
	if !ok {
		return def, nil
	}
	// Plain decimals only: ParseFloat alone would also take 1e3, 0x1p4, Inf and NaN.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || s == "" || strings.Trim(s, "-0123456789.") != "" {
		return 0, fmt.Errorf("%s=%q is not a number of seconds", name, clip(s))
	}
	if f <= 0 || f > max.Seconds() {
		return 0, fmt.Errorf("%s=%s is out of range: must be more than 0 and at most %g", name, clip(s), max.Seconds())
	}
	d := time.Duration(f * float64(time.Second))
	if d < time.Millisecond {
		return 0, fmt.Errorf("%s=%s is shorter than a millisecond", name, clip(s))
	}
	return d, nil
}

// intIn reads a whole number in [lo, hi], or def when absent.
func (q query) intIn(name string, def, lo, hi int) (int, error) {
	s, ok := q.get(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a whole number", name, clip(s))
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s=%d is out of range: must be from %d to %d", name, n, lo, hi)
	}
	return n, nil
}

// flag reads a boolean switch such as ?verbose=1; present without a value means true.
func (q query) flag(name string) (bool, error) {
	s, ok := q.get(name)
	if !ok {
		return false, nil
	}
	if s == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s=%q must be true/false or 1/0", name, clip(s))
	}
	return b, nil
}

func (q query) get(name string) (string, bool) {
	v, ok := q.v[name]
	if !ok {
		return "", false
	}
	return v[0], true
}
