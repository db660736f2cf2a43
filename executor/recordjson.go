package executor

// This file encodes the journal's step entries and run.json's steps without reflection: a
// run writes a step's whole record at every change of its status (about four times a step),
// so at 100,000 steps encoding/json's reflection and map sorting were a fifth of apply's
// CPU. The bytes are exactly what encoding/json gives (recordjson_test.go compares them);
// anything unusual (a value that is not a string, bool or integer, a string that needs
// escaping) is handed to encoding/json.

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/upgradeplan/upgradeplan/internal/jsonappend"
)

// appendEntry appends json.Marshal(e) to b, fast for the step, intent and result entries
// that make up a journal (a begin entry with a window override goes to encoding/json).
func appendEntry(b []byte, e Entry) ([]byte, error) {
	if e.Window != nil {
		q, err := json.Marshal(e)
		return append(b, q...), err
	}
	b = append(b, `{"time":`...)
	b = appendTime(b, e.Time)
	b = append(b, `,"type":`...)
	b = jsonappend.String(b, e.Type)
	b = appendOptString(b, `,"digest":`, e.Digest)
	if e.PID != 0 {
		b = append(b, `,"pid":`...)
		b = strconv.AppendInt(b, int64(e.PID), 10)
	}
	b = appendOptString(b, `,"host":`, e.Host)
	if e.Resumed {
		b = append(b, `,"resumed":true`...)
	}
	if e.DryRun {
		b = append(b, `,"dry_run":true`...)
	}
	b = appendOptString(b, `,"stop":`, e.Stop)
	b = appendOptString(b, `,"step_id":`, e.StepID)
	if e.Attempt != 0 {
		b = append(b, `,"attempt":`...)
		b = strconv.AppendInt(b, int64(e.Attempt), 10)
	}
	b = appendOptString(b, `,"client_token":`, e.ClientToken)
	if len(e.Params) > 0 {
		b = append(b, `,"params":`...)
		b = appendValues(b, e.Params)
	}
	b = appendOptString(b, `,"request_id":`, e.RequestID)
	b = appendOptString(b, `,"order_id":`, e.OrderID)
	b = appendOptString(b, `,"order_name":`, e.OrderName)
	if e.Error != nil {
		b = append(b, `,"error":`...)
		b = appendStepError(b, e.Error)
	}
	b = appendOptString(b, `,"class":`, string(e.Class))
	if e.Step != nil {
		b = append(b, `,"step":`...)
		b = appendStepRecord(b, e.Step)
	}
	if len(e.Observed) > 0 {
		b = append(b, `,"observed":`...)
		b = appendValues(b, e.Observed)
	}
	return append(b, '}'), nil
}

// appendOptString appends the field name and s unless s is empty (omitempty).
func appendOptString(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return jsonappend.String(append(b, name...), s)
}

func appendStepError(b []byte, e *StepError) []byte {
	b = append(b, '{')
	if e.Code != "" {
		b = append(b, `"code":`...)
		b = jsonappend.String(b, e.Code)
		b = append(b, ',')
	}
	b = append(b, `"class":`...)
	b = jsonappend.String(b, string(e.Class))
	b = append(b, `,"message":`...)
	b = jsonappend.String(b, e.Message)
	b = appendOptString(b, `,"request_id":`, e.RequestID)
	return append(b, '}')
}

// appendStepRecord appends json.Marshal(c).
func appendStepRecord(b []byte, c *StepRecord) []byte {
	b = append(b, `{"id":`...)
	b = jsonappend.String(b, c.ID)
	b = append(b, `,"target":`...)
	b = jsonappend.String(b, c.Target)
	b = append(b, `,"kind":`...)
	b = jsonappend.String(b, c.Kind)
	b = append(b, `,"region":`...)
	b = jsonappend.String(b, c.Region)
	b = appendOptString(b, `,"account":`, c.Account)
	b = append(b, `,"instance":`...)
	b = jsonappend.String(b, c.Instance)
	b = append(b, `,"action":`...)
	b = jsonappend.String(b, c.Action)
	b = append(b, `,"wave":`...)
	b = strconv.AppendInt(b, int64(c.Wave), 10)
	if len(c.DependsOn) > 0 {
		b = append(b, `,"depends_on":`...)
		b = jsonappend.Strings(b, c.DependsOn)
	}
	if len(c.Notes) > 0 {
		b = append(b, `,"notes":`...)
		b = jsonappend.Strings(b, c.Notes)
	}
	b = append(b, `,"status":`...)
	b = jsonappend.String(b, string(c.Status))
	b = appendOptString(b, `,"state":`, string(c.State))
	b = appendOptString(b, `,"reason":`, c.Reason)
	b = append(b, `,"from":`...)
	b = appendValues(b, c.From)
	b = append(b, `,"to":`...)
	b = appendValues(b, c.To)
	if len(c.Before) > 0 {
		b = append(b, `,"before":`...)
		b = appendValues(b, c.Before)
	}
	if len(c.After) > 0 {
		b = append(b, `,"after":`...)
		b = appendValues(b, c.After)
	}
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(c.Attempts), 10)
	if len(c.RequestIDs) > 0 {
		b = append(b, `,"request_ids":`...)
		b = jsonappend.Strings(b, c.RequestIDs)
	}
	b = appendOptString(b, `,"order_id":`, c.OrderID)
	b = appendOptString(b, `,"order_name":`, c.OrderName)
	b = appendOptString(b, `,"client_token":`, c.ClientToken)
	if c.Error != nil {
		b = append(b, `,"error":`...)
		b = appendStepError(b, c.Error)
	}
	if c.StartedAt != nil {
		b = append(b, `,"started_at":`...)
		b = appendTime(b, *c.StartedAt)
	}
	if c.FinishedAt != nil {
		b = append(b, `,"finished_at":`...)
		b = appendTime(b, *c.FinishedAt)
	}
	if c.DurationSeconds != 0 {
		b = append(b, `,"duration_seconds":`...)
		b = appendFloat(b, c.DurationSeconds)
	}
	return append(b, '}')
}

// appendValues appends the map with its keys sorted, as encoding/json does.
func appendValues(b []byte, v map[string]any) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	var arr [8]string
	keys := arr[:0]
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonappend.String(b, k)
		b = append(b, ':')
		b = appendAny(b, v[k])
	}
	return append(b, '}')
}

func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return jsonappend.String(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			return appendFloat(b, x)
		}
	}
	q, err := json.Marshal(v)
	if err != nil {
		// What encoding/json would fail on cannot be in a plan that was decoded from JSON.
		q, _ = json.Marshal(err.Error())
	}
	return append(b, q...)
}

// appendTime appends t as time.Time's MarshalJSON does.
func appendTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y > 9999 {
		q, _ := json.Marshal(t.Format(time.RFC3339Nano))
		return append(b, q...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendFloat appends f as encoding/json's float64 encoder does.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
