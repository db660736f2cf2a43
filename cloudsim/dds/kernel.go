package dds

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// ReleaseNote is one kernel version of the catalogue.
type ReleaseNote struct {
	KernelVersion string `json:"KernelVersion"`
	ReleaseNote   string `json:"ReleaseNote"`
}

// Catalogue returns the kernel release catalogue DescribeKernelReleaseNotes answers, oldest
// first within each engine version.
func Catalogue() []ReleaseNote {
	return []ReleaseNote{
		{"mongodb_20220510_4.2.19", "MongoDB 4.2: fixes an oplog truncation stall on hidden members."},
		{"mongodb_20231115_4.2.24", "MongoDB 4.2: backports security fixes from upstream 4.2.24."},
		{"mongodb_20230215_4.4.18", "MongoDB 4.4: improves failover time of replica sets."},
		{"mongodb_20231123_4.4.25", "MongoDB 4.4: fixes slow chunk migration under heavy writes."},
		{"mongodb_20240611_4.4.29", "MongoDB 4.4: upstream 4.4.29; fixes a rare startup crash after unclean shutdown."},
		{"mongodb_20231020_5.0.21", "MongoDB 5.0: time-series collection fixes."},
		{"mongodb_20240605_5.0.26", "MongoDB 5.0: upstream 5.0.26."},
		{"mongodb_20240110_6.0.12", "MongoDB 6.0: queryable encryption fixes."},
		{"mongodb_20240801_6.0.16", "MongoDB 6.0: upstream 6.0.16."},
		{"mongodb_20240912_7.0.12", "MongoDB 7.0: upstream 7.0.12."},
	}
}

// NewestKernel returns the newest kernel version of an engine version ("4.4"), "" if none.
func NewestKernel(engine string) string {
	newest, best := "", -1
	for _, n := range Catalogue() {
		e, patch, ok := splitKernel(n.KernelVersion)
		if ok && e == engine && patch > best {
			newest, best = n.KernelVersion, patch
		}
	}
	return newest
}

// splitKernel reads a kernel in either spelling, "mongodb_20240611_4.4.29" (release notes,
// the state file) or "4.4.29-20240611000000_0" (an instance's CurrentKernelVersion), as
// engine "4.4", patch 29.
func splitKernel(v string) (engine string, patch int, ok bool) {
	version := ""
	if rest, found := strings.CutPrefix(v, "mongodb_"); found {
		_, version, ok = strings.Cut(rest, "_")
	} else {
		version, _, ok = strings.Cut(v, "-")
	}
	if !ok {
		return "", 0, false
	}
	parts := strings.Split(version, ".")
	if len(parts) != 3 {
		return "", 0, false
	}
	p, err := strconv.Atoi(parts[2])
	if err != nil {
		return "", 0, false
	}
	return parts[0] + "." + parts[1], p, true
}

// instanceSpelling turns a release-note kernel ("mongodb_20240611_4.4.29") into the
// spelling of an instance's CurrentKernelVersion ("4.4.29-20240611000000_0").
func instanceSpelling(k string) string {
	rest, ok := strings.CutPrefix(k, "mongodb_")
	if !ok {
		return k
	}
	date, version, ok := strings.Cut(rest, "_")
	if !ok {
		return k
	}
	return version + "-" + date + "000000_0"
}

// releaseNotesAfter lists the catalogue, or, for a KernelVersion, the kernels of its
// engine version with a higher patch.
func releaseNotesAfter(after string) ([]ReleaseNote, error) {
	out := []ReleaseNote{}
	if after == "" {
		return append(out, Catalogue()...), nil
	}
	engine, patch, ok := splitKernel(after)
	if !ok {
		return nil, sim.Errorf(http.StatusBadRequest, CodeInvalidParam, "The specified parameter KernelVersion %q is not valid.", after)
	}
	for _, n := range Catalogue() {
		if e, p, _ := splitKernel(n.KernelVersion); e == engine && p > patch {
			out = append(out, n)
		}
	}
	return out, nil
}

// DefaultMaintenanceWindow is an instance's maintenance window when the state names none.
const DefaultMaintenanceWindow = "02:00Z-06:00Z"

// untilWindow is how long from now until the next start of the window "HH:MMZ-HH:MMZ"
// (UTC); zero inside the window.
func untilWindow(window string, now time.Time) time.Duration {
	d, _ := untilWindowErr(window, now)
	return d
}

func untilWindowErr(window string, now time.Time) (time.Duration, error) {
	if window == "" {
		window = DefaultMaintenanceWindow
	}
	startS, endS, ok := strings.Cut(window, "-")
	start, err1 := time.Parse("15:04Z", startS)
	end, err2 := time.Parse("15:04Z", endS)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("maintenanceWindow %q is not HH:MMZ-HH:MMZ", window)
	}
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from := day.Add(time.Duration(start.Hour())*time.Hour + time.Duration(start.Minute())*time.Minute)
	to := day.Add(time.Duration(end.Hour())*time.Hour + time.Duration(end.Minute())*time.Minute)
	if !to.After(from) {
		to = to.Add(24 * time.Hour)
	}
	switch {
	case !now.Before(from) && now.Before(to):
		return 0, nil
	case now.Before(from):
		return from.Sub(now), nil
	}
	// Past today's window (or inside yesterday's, for one that wraps midnight).
	if y := from.Add(-24 * time.Hour); !now.Before(y) && now.Before(to.Add(-24*time.Hour)) {
		return 0, nil
	}
	return from.Add(24 * time.Hour).Sub(now), nil
}
