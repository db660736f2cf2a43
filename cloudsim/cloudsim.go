package cloudsim

import (
	"github.com/upgradeplan/upgradeplan/cloudsim/amqp"
	"github.com/upgradeplan/upgradeplan/cloudsim/computenest"
	"github.com/upgradeplan/upgradeplan/cloudsim/dds"
	"github.com/upgradeplan/upgradeplan/cloudsim/kafka"
	"github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// Products returns a fresh instance of every simulated product.
func Products() []sim.Product {
	return []sim.Product{kafka.New(), dds.New(), amqp.New(), computenest.New(), redis.New()}
}

// New builds a simulator serving every product from a state file (format: package sim).
func New(state []byte, opts sim.Options) (*sim.Server, error) {
	return sim.NewServer(state, opts, Products()...)
}
