// Package planner owns the plan: it diffs a fleet manifest's desired state against live state
// read through the providers, builds the step graph (dependencies, chains of changes on one
// instance, canary waves), and writes and reads the plan file with its digest. It never
// switches on a kind: product rules are the providers'.
package planner
