package planner

import (
	"strconv"

	"github.com/upgradeplan/upgradeplan/internal/jsonappend"
)

// appendStep appends json.Marshal(s)'s bytes: a plan of 60,000 steps spent most of its
// encoding in reflection over Step and its three maps. Strings and map values of the
// kinds providers plan (strings, integers, booleans, nil) are written here; anything else
// (floats, nested lists and objects, a string json.Marshal would escape) goes to
// json.Marshal (internal/jsonappend), so the bytes are always its own (encode_test.go
// compares them).
func appendStep(b []byte, s *Step) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = jsonappend.String(b, s.ID)
	b = append(b, `,"target":`...)
	b = jsonappend.String(b, s.Target)
	b = append(b, `,"kind":`...)
	b = jsonappend.String(b, s.Kind)
	b = append(b, `,"region":`...)
	b = jsonappend.String(b, s.Region)
	if s.Account != "" {
		b = append(b, `,"account":`...)
		b = jsonappend.String(b, s.Account)
	}
	b = append(b, `,"instance":`...)
	b = jsonappend.String(b, s.Instance)
	b = append(b, `,"action":`...)
	b = jsonappend.String(b, s.Action)
	b = append(b, `,"params":`...)
	if b, err = jsonappend.Map(b, s.Params); err != nil {
		return b, err
	}
	b = append(b, `,"from":`...)
	if b, err = jsonappend.Map(b, s.From); err != nil {
		return b, err
	}
	b = append(b, `,"to":`...)
	if b, err = jsonappend.Map(b, s.To); err != nil {
		return b, err
	}
	if len(s.DependsOn) > 0 {
		b = append(b, `,"depends_on":`...)
		b = jsonappend.Strings(b, s.DependsOn)
	}
	b = append(b, `,"wave":`...)
	b = strconv.AppendInt(b, int64(s.Wave), 10)
	if len(s.Notes) > 0 {
		b = append(b, `,"notes":`...)
		b = jsonappend.Strings(b, s.Notes)
	}
	return append(b, '}'), nil
}
