// Package sim is the simulator's core: one HTTP server that authenticates Alibaba RPC
// (HMAC-SHA1) and Tencent API 3.0 (TC3-HMAC-SHA256) requests, routes them to products,
// enforces per-(account, action) rate caps over a sliding one-second window, injects faults,
// runs lifecycle transitions on a scaled clock, and records every call. Products live in
// sibling packages. It must not import either cloud SDK.
package sim
