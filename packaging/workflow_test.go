package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The workflow in docs/github-actions.md is the file users copy, and every action in it is
// pinned by a full commit SHA: a tag can be moved to other code, a SHA cannot.
func TestWorkflowDocShowsTheLintedFileAndPinsActions(t *testing.T) {
	root := repoRoot(t)
	wf, err := os.ReadFile(filepath.Join(root, "docs/workflows/upgradeplan-plan.yml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs/github-actions.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(wf)+"```") {
		t.Error("docs/github-actions.md does not show docs/workflows/upgradeplan-plan.yml verbatim: update the doc's yaml block")
	}
	uses := regexp.MustCompile(`(?m)^\s*(?:-\s*)?uses:\s*(\S+)`).FindAllStringSubmatch(string(wf), -1)
	if len(uses) == 0 {
		t.Fatal("the workflow uses no action: the pin check would check nothing")
	}
	pinned := regexp.MustCompile(`^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$`)
	for _, u := range uses {
		if !pinned.MatchString(u[1]) {
			t.Errorf("action %s is not pinned by a full commit SHA", u[1])
		}
	}
}
