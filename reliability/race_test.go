//go:build race

package reliability

// raceEnabled: the tests run with -race, so the command line is built with it too.
const raceEnabled = true
