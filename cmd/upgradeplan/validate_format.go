package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/upgradeplan/upgradeplan/manifest"
)

// validateFormats are validate's --format values.
//
//   - text: "FILE: valid" per valid file on stdout, one FILE:LINE:COL: PATH: MESSAGE per
//     problem on stderr (for people and for editors' problem matchers).
//   - github: GitHub Actions workflow commands on stdout, one ::error per problem with its
//     file, line and column, so each shows as an annotation on that line of the pull
//     request; valid files as "FILE: valid".
//   - json: one JSON document on stdout, {"valid": bool, "files": [...], "problems": [...]},
//     each problem with file, line, column, path and message, for other CIs.
var validateFormats = []string{"text", "github", "json"}

func checkValidateFormat(f string) error {
	for _, v := range validateFormats {
		if f == v {
			return nil
		}
	}
	return fmt.Errorf("unknown --format %q: use %s", f, strings.Join(validateFormats, ", "))
}

// validateResult is one file's outcome.
type validateResult struct {
	File     string             `json:"file"`
	Valid    bool               `json:"valid"`
	Problems []validateProblemJ `json:"-"`
}

type validateProblemJ struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func problemJSON(p manifest.Problem) validateProblemJ {
	return validateProblemJ{File: p.File, Line: p.Line, Column: p.Col, Path: manifest.CutMessage(p.Path), Message: manifest.CutMessage(p.Message)}
}

// writeValidateJSON prints the json format.
func writeValidateJSON(w io.Writer, files []validateResult, problems manifest.Problems) error {
	doc := struct {
		Valid    bool               `json:"valid"`
		Files    []validateResult   `json:"files"`
		Problems []validateProblemJ `json:"problems"`
	}{Valid: len(problems) == 0, Files: files, Problems: []validateProblemJ{}}
	for _, p := range problems {
		doc.Problems = append(doc.Problems, problemJSON(p))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// writeGitHubAnnotations prints one workflow command per problem:
//
//	::error file=fleet.yaml,line=14,col=7,title=upgradeplan validate::targets[1].desired.memSizeMB: ...
func writeGitHubAnnotations(w io.Writer, problems manifest.Problems) {
	for _, p := range problems {
		props := []string{"file=" + ghProperty(p.File)}
		if p.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", p.Line))
			if p.Col > 0 {
				props = append(props, fmt.Sprintf("col=%d", p.Col))
			}
		}
		props = append(props, "title=upgradeplan validate")
		msg := manifest.CutMessage(p.Message)
		if p.Path != "" {
			msg = manifest.CutMessage(p.Path) + ": " + msg
		}
		fmt.Fprintf(w, "::error %s::%s\n", strings.Join(props, ","), ghData(msg))
	}
}

// ghData escapes a workflow command's message as the runner unescapes it (toolkit's
// escapeData): %, CR and LF.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a property value (toolkit's escapeProperty): also ':' and ','.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
