package mongodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/dds"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
)

// Notes a reviewer sees on a step.
const (
	NoteRestart = "restarts once: plan for a change window"
	NoteRunning = "the instance must be Running when the call is made; the executor waits for it"
)

// Latest is the kernelVersion that means the newest kernel of the instance's engine version.
const Latest = "latest"

// Plan resolves kernelVersion (an exact version or "latest") against
// DescribeKernelReleaseNotes and plans at most one UpgradeDBInstanceKernelVersion.
//
// The API takes no target version: it always moves the instance to the newest kernel of
// its engine version. So an exact kernelVersion must be that newest one (or the current one,
// which plans nothing); anything else would end in a kernel other than the one planned.
func (p *Provider) Plan(ctx context.Context, inst provider.Instance, want provider.Desired) ([]provider.Change, error) {
	var errs []error
	for k := range want {
		if k != "kernelVersion" {
			errs = append(errs, &provider.RuleError{Field: k, Message: fmt.Sprintf("%s does not take %q; use kernelVersion", Kind, k)})
		}
	}
	target, ok := want["kernelVersion"].(string)
	if !ok || strings.TrimSpace(target) == "" {
		errs = append(errs, &provider.RuleError{Field: "kernelVersion", Message: `is required: an exact kernel version such as "mongodb_20240611_4.4.29", or "latest"`})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	typ, _ := inst.Values["dbInstanceType"].(string)
	if rf := replicationFactor(inst.Values["replicationFactor"]); typ != "sharding" && rf == 1 {
		return nil, &provider.RuleError{Message: fmt.Sprintf(
			"the instance is a standalone instance (ReplicationFactor 1); UpgradeDBInstanceKernelVersion only upgrades replica sets and sharded clusters: leave it out of the selection")}
	}
	current, _ := inst.Values["kernelVersion"].(string)
	engine, _ := inst.Values["engineVersion"].(string)
	kernels, err := p.kernels(ctx, engine)
	if err != nil {
		return nil, err
	}
	if len(kernels) == 0 {
		return nil, &provider.RuleError{Field: "kernelVersion", Message: fmt.Sprintf(
			"DescribeKernelReleaseNotes lists no kernel for MongoDB %s; upgrade the engine version first", engine)}
	}
	newest := kernels[len(kernels)-1]
	switch {
	case target == Latest:
		target = newest
	case target == current:
		return nil, nil
	case !slices.Contains(kernels, target):
		return nil, &provider.RuleError{Field: "kernelVersion", Message: fmt.Sprintf(
			"%s is not a kernel of MongoDB %s; DescribeKernelReleaseNotes lists %s; use one of them or \"latest\"",
			target, engine, strings.Join(kernels, ", "))}
	case slices.Index(kernels, target) < slices.Index(kernels, current):
		return nil, &provider.RuleError{Field: "kernelVersion", Message: fmt.Sprintf(
			"%s is older than the instance's kernel %s; kernels cannot be downgraded", target, current)}
	case target != newest:
		return nil, &provider.RuleError{Field: "kernelVersion", Message: fmt.Sprintf(
			"UpgradeDBInstanceKernelVersion always upgrades to the newest kernel, %s, not %s: set kernelVersion to %q or \"latest\"",
			newest, target, newest)}
	}
	if target == current {
		return nil, nil
	}
	return []provider.Change{upgradeChange(p.region, inst.ID, current, target)}, nil
}

func replicationFactor(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	n, _ := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	return n
}

// kernels returns the kernel versions of an engine version, oldest first, from one cached
// DescribeKernelReleaseNotes call per provider.
func (p *Provider) kernels(ctx context.Context, engine string) ([]string, error) {
	p.notesMu.Lock()
	defer p.notesMu.Unlock()
	if p.notes == nil {
		var resp *dds.DescribeKernelReleaseNotesResponse
		err := p.pool.Invoke(ctx, alisdk.Call{Action: ActionReleaseNotes}, func() (requests.AcsRequest, responses.AcsResponse) {
			req := dds.CreateDescribeKernelReleaseNotesRequest()
			req.RegionId = p.region
			resp = dds.CreateDescribeKernelReleaseNotesResponse()
			return req, resp
		})
		if err != nil {
			return nil, fmt.Errorf("mongodb: read kernel release notes in %s: %w", p.region, err)
		}
		notes := map[string][]string{}
		for _, n := range resp.ReleaseNotes.ReleaseNote {
			if e, _, ok := splitKernel(n.KernelVersion); ok {
				notes[e] = append(notes[e], n.KernelVersion)
			}
		}
		for e := range notes {
			slices.SortFunc(notes[e], compareKernels)
			notes[e] = slices.Compact(notes[e])
		}
		p.notes = notes
	}
	return p.notes[engine], nil
}

// splitKernel reads "mongodb_20240611_4.4.29" as engine "4.4" and patch 29.
func splitKernel(v string) (engine string, patch int, ok bool) {
	i := strings.LastIndexByte(v, '_')
	if i < 0 {
		return "", 0, false
	}
	parts := strings.Split(v[i+1:], ".")
	if len(parts) != 3 {
		return "", 0, false
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return "", 0, false
	}
	return parts[0] + "." + parts[1], n, true
}

// compareKernels orders kernels of one engine version by patch, then by release date.
func compareKernels(a, b string) int {
	_, pa, _ := splitKernel(a)
	_, pb, _ := splitKernel(b)
	if pa != pb {
		return pa - pb
	}
	return strings.Compare(a, b)
}
