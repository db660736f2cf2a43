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
	if p.Path == "" {
		return p.Pos.String() + ": " + p.message()
	}
	return p.Pos.String() + ": " + p.Path + ": " + p.message()
}

// message is the message led by the target and instance: "cache-sh/crs-demo-1: ...".
func (p *Problem) message() string {
	switch {
	case p.Target != "" && p.Instance != "":
		return p.Target + "/" + p.Instance + ": " + p.Message
	case p.Target != "":
		return p.Target + ": " + p.Message
	case p.Instance != "":
		return p.Instance + ": " + p.Message
	}
	return p.Message
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

// Manifest returns the problems as manifest problems (FILE:LINE:COL: PATH: MESSAGE lines),
// the target and instance leading the message, so that the command line prints planning
// problems exactly like validation problems.
func (ps Problems) Manifest() manifest.Problems {
	out := make(manifest.Problems, len(ps))
	for i, p := range ps {
		out[i] = manifest.Problem{Pos: p.Pos, Path: p.Path, Message: p.message()}
	}
	return out
}
