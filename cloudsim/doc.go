// Package cloudsim is the stand-in cloud that tests, the demo and the benchmarks run
// against: it wires every simulated product (alikafka, dds, amqp-open,
// computenestsupplier on Alibaba RPC; redis on Tencent API 3.0) into one sim.Server.
// The server itself (signatures, routing, rate caps, faults, clocks, the state file
// format) is package sim; each product's API and lifecycle is its own subpackage. Nothing
// here may import a cloud SDK outside tests.
package cloudsim
