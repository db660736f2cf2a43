// Package sim is the simulator's core: one HTTP server that authenticates Alibaba
// (RPC HMAC-SHA1, ACS3-HMAC-SHA256) and Tencent API 3.0 (TC3-HMAC-SHA256, signature v1)
// requests, refuses stale and replayed ones, routes them to products,
// enforces per-(account, action) rate caps over a sliding one-second window, injects faults,
// runs lifecycle transitions on a scaled clock, and records every call. Products live in
// sibling packages and keep their instances in its one generic instance table (Table:
// loading, snapshot, ids in order, visibility by account and region, tag filters, paging,
// actors' changes), each with its own fields and rules. It must not import either cloud
// SDK.
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
//	visibilityLag:             # accept-to-visible lag per state key (simulated, scaled
//	  kafka: 2s                # like durations; absent = 0, every change visible at once)
//	listLag:                   # how far list actions may trail describes per state key
//	  rabbitmq: 30s            # (simulated; absent = 0): see Table.List
//	kafka: ...                 # product sections: see each product package
//	mongodb: ...
//	rabbitmq: ...
//	computenest: ...
//	redis: ...
//
// # Eventual consistency and the applied record
//
// An action that accepts a change calls Host.Apply last: the change is recorded at once
// in the applied record, and made by its effect only after the product's visibility lag
// (plus the lag of any "lag" fault of the call). Until then every action sees the
// instance as it was before the call: lists and describes show the old version, size and
// status, and a second mutating call is judged against that old state, so it is accepted
// and applied again (the repeat the lag makes dangerous; a ClientToken still replays the
// first answer). A transition the effect schedules (the upgrade's end) counts from the
// moment the change became visible.
//
// Another actor (a person, another tool) can change instances under a running plan: the
// faults file's actors set fields, in the plan's field names, at a simulated time after
// the server started, as a finished change would; it becomes visible after the product's
// lag. An actor whose instance is busy at its time does nothing.
//
//	actors:
//	  - {name: oncall, at: 30s, instance: alikafka-1, set: {version: 2.2.0}}
//
// The products that take actors implement Actable.
//
// # Wire protocols
//
// Every signing form the vendors' current SDKs use is accepted (auth_alibaba.go,
// auth_tencent.go say how each is computed):
//
//   - Alibaba RPC HMAC-SHA1: parameters from the query and a form body alike, GET or
//     POST, the signature over the request's own method, SignatureType present (even
//     empty) or absent. ACS3-HMAC-SHA256 (the Tea SDKs): x-acs-* headers and an
//     Authorization header over the canonical request. Both routed by Version and Action.
//     Answers: HTTP 200 with the action's object plus RequestId, or a non-2xx
//     {"RequestId", "HostId", "Code", "Message", "Recommend"} whose Code is always a
//     string and whose Recommend is the troubleshooting link.
//   - Tencent API 3.0, TC3-HMAC-SHA256 over POST with a JSON body or over GET with the
//     parameters flattened in the query, routed by the credential scope's service (the
//     product Name), X-TC-Version and X-TC-Action; the signature may cover "host:port"
//     (the Go SDK) or the host alone (the Node SDK). Signature v1 (HmacSHA256 or
//     HmacSHA1) over GET or a POST form, routed by the host's service or, on a bare
//     address, by Version and Action. Answers: HTTP 200 {"Response": {..., "RequestId"}}
//     or {"Response": {"Error": {"Code", "Message"}, "RequestId"}}, whatever went wrong.
//     A product that implements RequestModel has unknown parameters refused
//     (UnknownParameter) and flattened ones typed before its action sees them as JSON.
//
// Refusals: missing common parameter → MissingParameter; unknown key →
// InvalidAccessKeyId.NotFound (HTTP 404) / AuthFailure.SecretIdNotFound; wrong signature
// → SignatureDoesNotMatch (HTTP 400, with the server's string to sign, as Alibaba does) /
// AuthFailure.SignatureFailure; a Timestamp (x-acs-date, X-TC-Timestamp) more than 15
// minutes (Alibaba) or 5 minutes (Tencent, as documented) from time.Now →
// InvalidTimeStamp.Expired (HTTP 400) / AuthFailure.SignatureExpire; an Alibaba
// SignatureNonce already used by the account → SignatureNonceUsed (HTTP 400); unknown
// action → InvalidApi.NotFound (HTTP 404) / InvalidAction; unknown RPC version →
// InvalidVersion; over a rate cap → Throttling.User (HTTP 400) / RequestLimitExceeded.
// An action's *APIError is answered as it is; any other error or a panic as
// InternalError (HTTP 500).
//
// # Order of a call
//
// Under the server's one lock: due lifecycle transitions run; authentication and routing
// refusals are answered; the rate cap is checked (only accepted calls enter the window);
// fault rules are drawn; latency is slept with the lock released; the action runs; the
// call is logged. A "drop" fault closes the connection after the action ran, and an
// internal-error or unavailable fault with apply: true answers its error after it ran.
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
// GET /_sim/calls lists every API call (CallRecord; code "" means success; secret
// parameters masked as everywhere else), GET /_sim/state returns {"accounts": [...],
// "time": simulated now, <state key>: Snapshot()}, and GET /_sim/applied every change
// applied (AppliedChange: which accepted call or actor changed which instance from what
// to what, the request id, and whether the answer was lost), the ground truth a checker
// compares a tool's record with.
package sim
