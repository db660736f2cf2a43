// Package sim is the simulator's core: one HTTP server that authenticates Alibaba RPC
// (HMAC-SHA1) and Tencent API 3.0 (TC3-HMAC-SHA256) requests, routes them to products,
// enforces per-(account, action) rate caps over a sliding one-second window, injects faults,
// runs lifecycle transitions on a scaled clock, and records every call. Products live in
// sibling packages. It must not import either cloud SDK.
//
// # State file
//
// NewServer reads one YAML mapping. Three top-level keys belong to the server; every other
// key is the StateKey of a product, whose Load receives that key's node (nil when the key
// is absent). A key no product claims is an error.
//
//	accounts:                  # key pairs the server accepts
//	  - name: demo-ali         # shown in /_sim/calls; instances may name an owner account
//	    cloud: alibaba         # alibaba (RPC AccessKey) or tencent (TC3 SecretId)
//	    keyId: demo-ak
//	    secret: demo-sk        # never shown by /_sim/state
//	  - {name: demo-tc, cloud: tencent, keyId: demo-id, secret: demo-key}
//	qps:                       # per-account caps, "product/Action" → requests per second
//	  alikafka/UpgradeInstanceVersion: 2    # the defaults (DefaultQPS) apply unless set;
//	  redis/UpgradeInstance: 20             # 0 lifts a cap; actions not listed and
//	  redis/DescribeInstances: 35           # without a default are unlimited
//	durations:                 # simulated upgrade duration per state key (Go durations),
//	  kafka: 20m               # read by products through Host.Duration; scaled by
//	  mongodb: 15m             # Options.TimeScale
//	kafka: ...                 # product sections: see each product package
//	mongodb: ...
//	rabbitmq: ...
//	computenest: ...
//	redis: ...
//
// # Wire protocols
//
// A request with an X-TC-Action header or a "TC3-" Authorization is Tencent API 3.0: POST
// / with a JSON body, routed by the credential scope's service (the product Name), the
// X-TC-Version header and X-TC-Action. Its answers are HTTP 200
// {"Response": {..., "RequestId"}} or {"Response": {"Error": {"Code", "Message"},
// "RequestId"}}. The signature may cover "host:port" (the Go SDK) or the host alone (the
// Node SDK). Anything else is Alibaba RPC: parameters from the query and a form body alike,
// GET or POST, the signature computed over the request's own method, SignatureType present
// (even empty) or absent; routed by Version and Action. Its answers are HTTP 200 with the
// action's object plus RequestId, or a non-2xx {"RequestId", "HostId", "Code", "Message"}
// whose Code is always a string. Timestamps are not checked against the clock.
//
// Refusals: unknown key → InvalidAccessKeyId.NotFound (HTTP 404) /
// AuthFailure.SecretIdNotFound; wrong signature → SignatureDoesNotMatch (HTTP 400, with
// the server's string to sign, as Alibaba does) / AuthFailure.SignatureFailure; unknown
// action → InvalidApi.NotFound (HTTP 404) / InvalidAction; unknown RPC version →
// InvalidVersion; over a rate cap → Throttling.User (HTTP 400) / RequestLimitExceeded. An
// action's *APIError is answered as it is; any other error or a panic as InternalError
// (HTTP 500).
//
// # Order of a call
//
// Under the server's one lock: due lifecycle transitions run; authentication and routing
// refusals are answered; the rate cap is checked (only accepted calls enter the window);
// fault rules are drawn; latency is slept with the lock released; the action runs; the
// call is logged. A "drop" fault closes the connection after the action ran.
//
// # Clocks
//
// Options.Now is the real clock (time.Now by default). Rate windows and CallRecord.Time
// use it directly. The simulated clock (Request.Now, CallRecord.SimTime, Host.After)
// advances TimeScale times as fast. Transitions scheduled with Host.After run lazily, in
// due order, before every request and every state read, each receiving its due time.
//
// # Introspection
//
// GET /_sim/calls lists every API call (CallRecord; code "" means success) and GET
// /_sim/state returns {"accounts": [...], "time": simulated now, <state key>: Snapshot()}.
package sim
