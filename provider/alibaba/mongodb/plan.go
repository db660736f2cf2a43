package mongodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Desired fields.
const (
	FieldKernel            = "kernelVersion"
	FieldMaintenanceWindow = "maintenanceWindow" // true: SwitchMode=1, the upgrade starts in the instance's maintenance window
)

// SwitchMode values of UpgradeDBInstanceKernelVersion.
const (
	switchNow    = "0" // at once, so the change happens inside the plan's window
	switchWindow = "1" // in the instance's maintenance window
)

// NoteMaintenanceWindow is shown on a step that waits for the instance's maintenance window.
const NoteMaintenanceWindow = "starts in the instance's maintenance window (SwitchMode=1), which may be hours away; the step waits for it up to stepTimeout"

// Plan resolves kernelVersion (an exact version or "latest") against
// DescribeKernelReleaseNotes and plans at most one UpgradeDBInstanceKernelVersion. The
// instance's current kernel comes from DescribeDBInstanceAttribute (the list has none),
// read here for this one instance only.
//
// The API takes no target version: it always moves the instance to the newest kernel of
// its engine version. So an exact kernelVersion must be that newest one (or the current one,
// which plans nothing); anything else would end in a kernel other than the one planned.
// The call sends SwitchMode=0 (upgrade now) unless maintenanceWindow is true.
func (p *Provider) Plan(ctx context.Context, inst provider.Instance, want provider.Desired) ([]provider.Change, error) {
	var errs []error
	for k := range want {
		if k != FieldKernel && k != FieldMaintenanceWindow {
			errs = append(errs, &provider.RuleError{Field: k, Message: fmt.Sprintf("%s does not take %q; use kernelVersion and maintenanceWindow", Kind, k)})
		}
	}
	target, ok := want[FieldKernel].(string)
	if !ok || strings.TrimSpace(target) == "" {
		errs = append(errs, &provider.RuleError{Field: FieldKernel, Message: `is required: an exact kernel version such as "mongodb_20240611_4.4.29", or "latest"`})
	}
	inWindow, ok := want[FieldMaintenanceWindow].(bool)
	if _, has := want[FieldMaintenanceWindow]; has && !ok {
		errs = append(errs, &provider.RuleError{Field: FieldMaintenanceWindow, Message: fmt.Sprintf("%v is not true or false", want[FieldMaintenanceWindow])})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	typ, _ := inst.Values["dbInstanceType"].(string)
	if rf, _ := provider.Int(inst.Values["replicationFactor"]); typ != TypeSharding && rf == 1 {
		return nil, &provider.RuleError{Message: "the instance is a standalone instance (ReplicationFactor 1); UpgradeDBInstanceKernelVersion only upgrades replica sets and sharded clusters: leave it out of the selection"}
	}
	current, _ := inst.Values[FieldKernel].(string)
	if current == "" {
		k, err := p.kernelOf(ctx, inst.ID)
		if err != nil {
			return nil, err
		}
		current = k
	}
	engine, _ := inst.Values["engineVersion"].(string)
	kernels, err := p.kernels(ctx, engine)
	if err != nil {
		return nil, err
	}
	if len(kernels) == 0 {
		return nil, &provider.RuleError{Field: FieldKernel, Message: fmt.Sprintf(
			"DescribeKernelReleaseNotes lists no kernel for MongoDB %s; upgrade the engine version first", engine)}
	}
	if _, ok := parseKernel(current); !ok {
		return nil, fmt.Errorf("mongodb: %s: the current kernel version %q is in neither of the documented forms (5.0.5-20220721143518_0, mongodb_20180619_0.4.9)", inst.ID, current)
	}
	newest := kernels[len(kernels)-1]
	known := slices.ContainsFunc(kernels, func(k string) bool { return sameKernel(k, target) })
	switch {
	case target == Latest:
		target = newest
	case sameKernel(target, current):
		return nil, nil
	case !known:
		return nil, &provider.RuleError{Field: FieldKernel, Message: fmt.Sprintf(
			"%s is not a kernel of MongoDB %s; DescribeKernelReleaseNotes lists %s; use one of them or \"latest\"",
			target, engine, strings.Join(kernels, ", "))}
	case compareKernels(target, current) < 0:
		return nil, &provider.RuleError{Field: FieldKernel, Message: fmt.Sprintf(
			"%s is older than the instance's kernel %s; kernels cannot be downgraded", target, current)}
	case !sameKernel(target, newest):
		return nil, &provider.RuleError{Field: FieldKernel, Message: fmt.Sprintf(
			"UpgradeDBInstanceKernelVersion always upgrades to the newest kernel, %s, not %s: set kernelVersion to %q or \"latest\"",
			newest, target, newest)}
	}
	if sameKernel(target, current) || compareKernels(target, current) < 0 {
		return nil, nil
	}
	return []provider.Change{upgradeChange(p.region, inst.ID, current, target, inWindow)}, nil
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
			if k, ok := parseKernel(n.KernelVersion); ok {
				notes[k.engine] = append(notes[k.engine], n.KernelVersion)
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
