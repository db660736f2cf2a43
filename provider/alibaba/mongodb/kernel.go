package mongodb

import (
	"strconv"
	"strings"
)

// kernel is one kernel version read from either of the spellings dds uses:
//
//   - an instance's CurrentKernelVersion (DescribeDBInstanceAttribute), documented as
//     "5.0.5-20220721143518_0": engine version with patch, build time, build number;
//   - a release note's KernelVersion (DescribeKernelReleaseNotes), documented as
//     "mongodb_20180619_0.4.9": release date, then the version.
//
// Two spellings name the same kernel when engine and patch agree; kernels of one engine
// version are ordered by patch, then by date.
type kernel struct {
	engine string // "4.4"
	patch  int    // 29
	date   string // "20240611" or "20240611143518"
	raw    string
}

// parseKernel reads either spelling; ok is false for anything else.
func parseKernel(v string) (k kernel, ok bool) {
	k.raw = v
	var version string
	if rest, found := strings.CutPrefix(v, "mongodb_"); found {
		// mongodb_<date>_<major.minor.patch>
		date, ver, cut := strings.Cut(rest, "_")
		if !cut {
			return kernel{}, false
		}
		k.date, version = date, ver
	} else {
		// <major.minor.patch>-<build time>_<build>
		ver, build, cut := strings.Cut(v, "-")
		if !cut {
			return kernel{}, false
		}
		date, _, _ := strings.Cut(build, "_")
		k.date, version = date, ver
	}
	if !allDigits(k.date) {
		return kernel{}, false
	}
	parts := strings.Split(version, ".")
	if len(parts) != 3 || !allDigits(parts[0]) || !allDigits(parts[1]) {
		return kernel{}, false
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 0 {
		return kernel{}, false
	}
	k.engine, k.patch = parts[0]+"."+parts[1], n
	return k, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// sameKernel reports whether two spellings name one kernel; an unreadable one is only
// the same as itself.
func sameKernel(a, b string) bool {
	if a == b {
		return true
	}
	ka, okA := parseKernel(a)
	kb, okB := parseKernel(b)
	return okA && okB && ka.engine == kb.engine && ka.patch == kb.patch
}

// compareKernels orders kernels of one engine version by patch, then by date (a shorter
// date, a day, sorts before the same day with a time of day).
func compareKernels(a, b string) int {
	ka, _ := parseKernel(a)
	kb, _ := parseKernel(b)
	if ka.patch != kb.patch {
		return ka.patch - kb.patch
	}
	return strings.Compare(ka.date, kb.date)
}
