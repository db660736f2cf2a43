// Package planner owns the plan: it diffs a fleet manifest's desired state against live state
// read through the providers, builds the step graph (dependencies, chains of changes on one
// instance, canary waves), and writes and reads the plan file with its digest. It never
// switches on a kind: product rules are the providers'.
//
// Cost at scale: each (kind, account, region) group is listed, selected and diffed on its
// own and lets go of its listing when its diffs are done (diff.go), and the plan file is
// written one target and step at a time with its digest in the same pass (encode.go), so a
// plan of 100,000 instances never holds every listing, or the whole file, in memory.
package planner
