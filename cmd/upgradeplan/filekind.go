package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
)

// The kinds of file upgradeplan reads, as a command names them when it is given the wrong
// one: `apply fleet.yaml` says "fleet.yaml is a fleet manifest", not "invalid character".
const (
	kindManifest = "a fleet manifest"
	kindPlan     = "a plan file"
	kindRun      = "a run record"
	kindSimState = "a simulator state file"
	kindFaults   = "a simulator faults file"
)

var (
	manifestLine = regexp.MustCompile(`(?m)^(apiVersion:\s*["']?upgradeplan/|kind:\s*["']?Fleet\b)`)
	simStateLine = regexp.MustCompile(`(?m)^(durations|kafka|mongodb|rabbitmq|computenest|redis):`)
	faultsLine   = regexp.MustCompile(`(?m)^(failUpgrades|rules):`)
)

// fileKind tells what data is from its top-level keys; "" when it cannot tell.
func fileKind(data []byte) string {
	var top map[string]json.RawMessage
	// The first JSON value only: a plan with data after it is still a plan (refused).
	if json.NewDecoder(bytes.NewReader(data)).Decode(&top) == nil {
		switch {
		case top["format_version"] != nil:
			return kindPlan
		case top["segments"] != nil && top["steps"] != nil:
			return kindRun
		}
		return ""
	}
	head := data
	if len(head) > 64<<10 {
		head = head[:64<<10]
	}
	switch {
	case manifestLine.Match(head):
		return kindManifest
	case simStateLine.Match(head):
		return kindSimState
	case faultsLine.Match(head):
		return kindFaults
	}
	return ""
}

// whatToRun says which command reads a file of kind.
func whatToRun(kind, path string) string {
	switch kind {
	case kindManifest:
		return "upgradeplan plan " + path + " -o plan.json makes a plan from it"
	case kindPlan:
		return "upgradeplan show " + path + " prints it, upgradeplan apply " + path + " runs it"
	case kindRun:
		return "upgradeplan report " + path + " renders it"
	case kindSimState:
		return "upgradeplan sim --state " + path + " loads it"
	case kindFaults:
		return "upgradeplan sim --faults " + path + " loads it"
	}
	return ""
}

// wrongKind is the error of a command that reads files of kind want and was given data of
// another kind it can name; nil when data is of kind want or cannot be told.
func wrongKind(command, path string, data []byte, want string) error {
	if msg := kindMismatch(path, data, want); msg != "" {
		return fmt.Errorf("%s: %s %s", command, path, msg)
	}
	return nil
}

// kindMismatch says "is a plan file, not a fleet manifest: ..." for data of another kind than
// want; "" when it is of kind want or cannot be told.
func kindMismatch(path string, data []byte, want string) string {
	got := fileKind(data)
	if got == "" || got == want {
		return ""
	}
	return fmt.Sprintf("is %s, not %s: %s", got, want, whatToRun(got, path))
}
