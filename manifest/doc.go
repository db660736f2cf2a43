// Package manifest owns the fleet manifest (`apiVersion: upgradeplan/v1`, `kind: Fleet`):
// it decodes YAML into a typed Fleet that keeps file:line:column for every value, resolves
// nothing secret ({fromEnv} stays a reference), and reports every problem of a file at once,
// sorted by position. It checks what the JSON Schema cannot (unique names, dependencies,
// cycles, the window). It knows no cloud API.
package manifest
