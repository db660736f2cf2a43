package manifest

import "os"

// Load reads and parses the manifest at path.
func Load(path string) (*Fleet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses data as the manifest named name (used in positions).
func Parse(name string, data []byte) (*Fleet, error) {
	return &Fleet{File: name}, nil
}
