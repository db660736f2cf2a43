// Package report renders plans and run records for the people and machines that read them:
// report.md (a GitHub comment for reviewers and auditors), junit.xml (pass/fail per instance
// for CI), run.json (the complete record), and the progress line or log lines of a running
// apply. It only reads planner and executor types; it never calls a cloud and never sees a
// secret value, so nothing it writes can leak one.
package report
