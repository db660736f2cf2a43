package rabbitmq

import (
	"context"
	"strings"

	"github.com/upgradeplan/upgradeplan/provider"
)

// notFoundCodes are GetInstance's answers to an id amqp-open does not know: Alibaba's
// Terraform provider expects ResourceNotFound, the UpdateInstance model documents
// InstanceNotExist.
var notFoundCodes = []string{"ResourceNotFound", "InstanceNotExist"}

// observeRead returns the watched instances by id, complete with GetInstance's fields where
// they were read, in the cheaper of two forms (see Observe); listed says the region's list
// was read, so an instance detailed lacks was seen only there.
func (p *Provider) observeRead(ctx context.Context, watches []provider.Watch) (insts, detailed map[string]provider.Instance, listed bool, err error) {
	ids := provider.WatchedInstances(watches)
	needs := map[string]bool{}
	for _, w := range watches {
		if needsDetail(w.To) || needsDetail(w.From) {
			needs[w.Instance] = true
		}
	}
	detailed = map[string]provider.Instance{}
	if len(ids) > p.listPages(ids)+len(needs) {
		want := make(map[string]bool, len(ids))
		for _, id := range ids {
			want[id] = true
		}
		all, err := p.listUntil(ctx, want)
		if err != nil {
			return nil, nil, false, err
		}
		return provider.IndexByID(all), detailed, true, nil
	}
	insts = make(map[string]provider.Instance, len(ids))
	for _, id := range ids {
		inst, found, err := p.confirm(ctx, id, detailed)
		if err != nil {
			return nil, nil, false, err
		}
		if found {
			insts[id] = inst
		}
	}
	return insts, detailed, false, nil
}

func isNotFound(code string) bool {
	for _, c := range notFoundCodes {
		if code == c {
			return true
		}
	}
	return false
}

// fromDetail is the instance as ListInstances would show it, from GetInstance's Data, which
// carries every field the list does (tags aside, which Observe does not read).
func fromDetail(region string, d instanceDetail) provider.Instance {
	return provider.Instance{
		ID:     d.InstanceId,
		Region: region,
		Status: d.Status,
		Phase:  phaseOf(d.Status),
		Values: provider.Values{
			"instanceType":  strings.ToLower(d.InstanceType),
			"maxPrivateTps": d.MaxTps,
			"queueCapacity": d.MaxQueue,
			"storageSize":   d.StorageSize,
			"supportEip":    d.SupportEIP,
			"maxEipTps":     d.MaxEipTps,
			factChargeType:  chargeType(d.OrderType),
		},
	}
}
