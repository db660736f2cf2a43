#!/usr/bin/env bash
# make demo: the whole story on loopback in under two minutes.
#   1. start the simulator with examples/sim/state.yaml and the demo's injected faults
#   2. validate and plan examples/fleet.yaml (the plan is printed)
#   3. apply it with a progress display, then show where the reports are
#   4. stop the simulator
# Exits 0 when the run went as the demo intends: every step succeeded except the one
# failure examples/sim/faults.yaml injects (and the steps that depend on it).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=bin/upgradeplan
out=${DEMO_OUT:-runs/demo}
work=$(mktemp -d)
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== starting the simulator (examples/sim/state.yaml, faults from examples/sim/faults.yaml)"
"$bin" sim --state examples/sim/state.yaml --faults examples/sim/faults.yaml \
  --listen 127.0.0.1:0 --time-scale "${DEMO_TIME_SCALE:-300}" >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
for _ in $(seq 1 100); do
  addr=$(sed -n 's/^listening on //p' "$work/sim.out" | head -1)
  [ -n "$addr" ] && break
  sleep 0.1
done
if [ -z "${addr:-}" ]; then
  echo "simulator did not start:" >&2; cat "$work/sim.err" >&2; exit 1
fi
echo "   listening on $addr"

# The demo accounts of examples/sim/state.yaml, through each SDK's default credential chain.
export UPGRADEPLAN_ALIBABA_ENDPOINT=$addr UPGRADEPLAN_TENCENT_ENDPOINT=$addr
export ALIBABA_CLOUD_ACCESS_KEY_ID=demo-ak ALIBABA_CLOUD_ACCESS_KEY_SECRET=demo-sk
export TENCENTCLOUD_SECRET_ID=demo-id TENCENTCLOUD_SECRET_KEY=demo-key
# The simulator runs DEMO_TIME_SCALE (300) times faster than the clock and shows accepted
# changes at once, so a call whose answer was lost (or that met a 5xx) is reconciled after
# two seconds of wall clock instead of the products' minute or two (apply --visibility-grace).
export UPGRADEPLAN_VISIBILITY_GRACE=${UPGRADEPLAN_VISIBILITY_GRACE:-2s}
# The Compute Nest target's InstancePassword is {fromEnv: DEMO_SI_PASSWORD}.
export DEMO_SI_PASSWORD=${DEMO_SI_PASSWORD:-demo-Passw0rd!}

echo
echo "== upgradeplan validate examples/*.yaml"
"$bin" validate examples/*.yaml

echo
echo "== upgradeplan plan examples/fleet.yaml -o $out.plan.json"
set +e
mkdir -p "$(dirname "$out")"; rm -rf "$out" "$out.plan.json"
"$bin" plan examples/fleet.yaml -o "$out.plan.json" --detailed-exitcode
code=$?
set -e
if [ "$code" -ne 2 ]; then echo "expected changes in every target (exit 2), got exit $code" >&2; exit 1; fi

echo
echo "== upgradeplan apply $out.plan.json --out $out"
set +e
"$bin" apply "$out.plan.json" --out "$out"
code=$?
set -e

echo
echo "== reports"
echo "   $out/report.md"
echo "   $out/junit.xml"
echo "   $out/run.json"

# The demo intends exactly one failure, injected by examples/sim/faults.yaml, so apply
# exits 2 (a step failed). Anything else means the demo did not go as intended.
if [ "$code" -ne 2 ]; then echo "apply exited $code; the demo expects 2 (one injected failure)" >&2; exit 1; fi
failed=$(grep -c '"status": "failed"' "$out/run.json" || true)
if [ "$failed" -ne 1 ]; then echo "expected exactly one failed step, found $failed" >&2; exit 1; fi
echo
echo "demo finished as intended: one injected failure, everything else applied (see $out/report.md)"
