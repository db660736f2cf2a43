package planner_test

import (
	"github.com/upgradeplan/upgradeplan/cloudsim/amqp"
	"github.com/upgradeplan/upgradeplan/cloudsim/computenest"
	"github.com/upgradeplan/upgradeplan/cloudsim/dds"
	"github.com/upgradeplan/upgradeplan/cloudsim/kafka"
	"github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// simProducts are the five simulated products.
func simProducts() []sim.Product {
	return []sim.Product{kafka.New(), dds.New(), amqp.New(), computenest.New(), redis.New()}
}
