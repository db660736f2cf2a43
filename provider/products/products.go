// Package products lists every cloud product upgradeplan knows: the one place that names
// them all, so that the command line (and tests that run the real pipeline) get one
// registry. It owns no product logic.
package products

import (
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/computenest"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/kafka"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/mongodb"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/rabbitmq"
	"github.com/upgradeplan/upgradeplan/provider/tencent/redis"
)

// Registry returns every product's spec by kind.
func Registry() provider.Registry {
	reg := provider.Registry{}
	for _, spec := range []provider.Spec{
		kafka.Spec(),
		mongodb.Spec(),
		rabbitmq.Spec(),
		computenest.Spec(),
		redis.Spec(),
	} {
		reg[spec.Kind] = spec
	}
	return reg
}
