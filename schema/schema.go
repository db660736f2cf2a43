package schema

import _ "embed"

//go:embed fleet.schema.json
var raw []byte

// JSON returns the schema's text.
func JSON() []byte { return append([]byte(nil), raw...) }
