package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// stepCost runs BenchmarkStepCost (executor/pgstate: what the state costs per step, the
// local directory and PostgreSQL, one step at a time and 16 at once) and returns its
// results as a table, or a line saying why it could not.
func stepCost(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "BenchmarkStepCost", "-benchtime", "2000x", "./executor/pgstate")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Sprintf("BenchmarkStepCost did not run (%v).\n", err)
	}
	var sb strings.Builder
	sb.WriteString("| BenchmarkStepCost (2,000 steps) | state | steps in flight | per step |\n|---|---|---|---|\n")
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkStepCost/") || f[3] != "ns/op" {
			continue
		}
		name := strings.TrimPrefix(f[0], "BenchmarkStepCost/")
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i]
		}
		backend, mode, _ := strings.Cut(name, "/")
		ns, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			continue
		}
		state := map[string]string{"dir": "run directory (fsync)", "postgres": "PostgreSQL, fsync off (the tests' server)",
			"postgres-durable": "PostgreSQL, fsync and synchronous commit on"}[backend]
		flight := map[string]string{"serial": "1", "parallel16": "16"}[mode]
		fmt.Fprintf(&sb, "| %s | %s | %s | %.2f ms |\n", name, state, flight, ns/1e6)
	}
	return sb.String()
}
