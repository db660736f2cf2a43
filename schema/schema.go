package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// URL is the schema's $id.
const URL = "https://upgradeplan.dev/schema/fleet.schema.json"

//go:embed fleet.schema.json
var raw []byte

// JSON returns the schema's text.
func JSON() []byte { return bytes.Clone(raw) }

// compiled is the schema, compiled once; it is never modified after.
type compiled struct {
	schema *jsonschema.Schema
	tree   any // the schema as decoded JSON, to look up keywords and descriptions by location
}

var compile = sync.OnceValues(func() (*compiled, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(URL, bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("schema: load: %w", err)
	}
	s, err := c.Compile(URL)
	if err != nil {
		return nil, fmt.Errorf("schema: compile: %w", err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, fmt.Errorf("schema: decode: %w", err)
	}
	return &compiled{schema: s, tree: tree}, nil
})
