// Package executor owns `apply`: it schedules a plan's steps (dependencies, canary waves,
// parallelism), takes a token from a per-(account, action) bucket for every request, retries
// what is safe to retry, polls completion in batches, keeps the change window and failure
// budget, and writes a crash-safe journal and the run record. It never switches on a kind.
package executor
