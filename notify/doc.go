// Package notify owns what apply tells people when a run ends or stops: one summary of the
// run record (outcome, counts, failures with instance, error code and request id, report
// paths, the command that continues the run) posted to incoming webhooks — a plain JSON
// document, or the message shapes Slack, DingTalk, WeCom and Feishu accept.
// Text from the run record (a cloud's error message, an instance id) is shown as text:
// escaped per Slack's rules for Slack, with report's Cell and Code for the Markdown of
// DingTalk and WeCom, so it can neither ping a channel, link, nor break the message.
//
// A notification must never change a run: sending is retried with backoff for a bounded
// time and its failure is returned for a warning, never turned into an exit code. It never
// carries a secret: the summary is built from the run record (which holds secret
// references, not values), and a webhook URL — which for these services is itself a
// credential — is named in errors and logs by scheme and host only.
package notify
