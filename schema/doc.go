// Package schema owns fleet.schema.json, the JSON Schema (draft 2020-12) of the fleet
// manifest, embedded in the binary, and validates decoded documents against it. It reports
// problems by JSON pointer; mapping them to file positions is the manifest package's job.
// It knows the manifest's shape, not how to read YAML or any cloud API.
package schema
