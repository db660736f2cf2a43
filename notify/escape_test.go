package notify

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/renderer/html"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/provider"
)

// hostileSummary is a failure whose cloud text tries Slack control sequences, HTML and
// Markdown, on an instance id with a backtick.
func hostileSummary() Summary {
	rec := &executor.Record{Plan: executor.PlanRef{Name: "q4"}, Outcome: executor.Outcome{Result: "failed", ExitCode: 2},
		Counts: map[executor.Status]int{executor.StatusFailed: 1},
		Steps: []executor.StepRecord{{ID: "t/si`1", Instance: "si`1", Status: executor.StatusFailed,
			Error: &executor.StepError{Code: "Bad_Code", Class: provider.ClassPermanent, RequestID: "REQ-1",
				Message: "bad <!channel> <http://evil|click> <img src=x> **loud** [link](http://e) & more"}}}}
	return NewSummary(rec, "/runs/q4", nil, "")
}

// bodyText is the message text a service shows, out of the body Body posts.
func bodyText(t *testing.T, f Format, s Summary) string {
	t.Helper()
	b, err := Body(f, s)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Text     string            `json:"text"`
		Markdown map[string]string `json:"markdown"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Text + doc.Markdown["text"] + doc.Markdown["content"]
}

// Slack reads <...> as a mention or a link: cloud text is escaped per Slack's rules
// (&amp; &lt; &gt;), and a value with a backtick is not put in a code span it would break.
func TestSlackShowsCloudTextWithoutMentionsOrLinks(t *testing.T) {
	text := bodyText(t, FormatSlack, hostileSummary())
	for _, bad := range []string{"<!channel>", "<http://evil|click>", "<img", " & "} {
		if strings.Contains(text, bad) {
			t.Errorf("slack text carries %q:\n%s", bad, text)
		}
	}
	for _, want := range []string{"&lt;!channel&gt;", "&lt;http://evil|click&gt;", "&amp; more", "- si`1: bad", "`REQ-1`"} {
		if !strings.Contains(text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, text)
		}
	}
}

// DingTalk and WeCom render Markdown: the cloud text reads as the text it is, with no HTML,
// emphasis or link of its own, and the instance id with a backtick stays one code span.
func TestChatMarkdownShowsCloudTextAsText(t *testing.T) {
	for _, f := range []Format{FormatDingTalk, FormatWeCom} {
		var out bytes.Buffer
		gm := goldmark.New(goldmark.WithRendererOptions(html.WithUnsafe()))
		if err := gm.Convert([]byte(bodyText(t, f, hostileSummary())), &out); err != nil {
			t.Fatal(err)
		}
		rendered := out.String()
		for _, bad := range []string{"<img", "<strong>loud", "<a href", "<!channel>"} {
			if strings.Contains(rendered, bad) {
				t.Errorf("%s markdown renders %q:\n%s", f, bad, rendered)
			}
		}
		for _, want := range []string{"<code>si`1</code>", "<code>Bad_Code</code>", "**loud**", "[link](http://e)", "&lt;!channel&gt;"} {
			if !strings.Contains(rendered, want) {
				t.Errorf("%s markdown does not show %q:\n%s", f, want, rendered)
			}
		}
	}
}
