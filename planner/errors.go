package planner

import (
	"cmp"
	"slices"
	"strings"

	"github.com/upgradeplan/upgradeplan/manifest"
)

// Problem is one thing wrong with a manifest, found while planning: a broken product rule, a
// selection that matches nothing, a failed read. It names the manifest position and path of
// the value at fault, the target and, where there is one, the instance.
type Problem struct {
	Pos      manifest.Pos
	Path     string // "targets[1].desired.memSizeMB"
	Target   string // the target's name
	Instance string // "" for a problem of the target as a whole
	Message  string // what is wrong and what to change; never a secret value
}

// Error renders the problem as
//
//	fleet.yaml:14:7: targets[1].desired.memSizeMB: cache-sh/crs-demo-1: 3000 is not a multiple of 1024
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Pos.String())
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	switch {
	case p.Target != "" && p.Instance != "":
		b.WriteString(p.Target + "/" + p.Instance + ": ")
	case p.Target != "":
		b.WriteString(p.Target + ": ")
	case p.Instance != "":
		b.WriteString(p.Instance + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems are every problem Build found in one manifest, sorted by position, then target and
// instance. Its Error is one problem per line; the CLI prints it as is and exits 1.
type Problems []*Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b *Problem) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Target, b.Target),
			cmp.Compare(a.Instance, b.Instance),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
