package sim

import "time"

// DefaultQPS holds the documented per-account caps, keyed "product/Action"; every other
// action is unlimited unless the state file's qps map sets it.
func DefaultQPS() map[string]int {
	return map[string]int{
		"alikafka/UpgradeInstanceVersion": 2,
		"redis/UpgradeInstance":           20,
		"redis/DescribeInstances":         35,
	}
}

// limiter enforces per-(account, "product/Action") caps over a sliding one-second window
// of the real clock. Only accepted requests enter the window: a refused request does not
// count, so a client that keeps retrying at the cap still gets through at the cap, as the
// clouds' token-style limiters let it.
type limiter struct {
	caps     map[string]int         // "product/Action" → requests per second; ≤ 0 = unlimited
	accepted map[string][]time.Time // account + "\x00" + "product/Action" → accept times, oldest first
}

func newLimiter(overrides map[string]int) *limiter {
	caps := DefaultQPS()
	for k, v := range overrides {
		caps[k] = v
	}
	return &limiter{caps: caps, accepted: map[string][]time.Time{}}
}

// allow reports whether the account may make one more call of the action at now, and if
// so counts it.
func (l *limiter) allow(account, productAction string, now time.Time) bool {
	limit := l.caps[productAction]
	if limit <= 0 {
		return true
	}
	key := account + "\x00" + productAction
	times := l.accepted[key]
	cut := 0
	for cut < len(times) && !times[cut].After(now.Add(-time.Second)) {
		cut++
	}
	times = times[cut:]
	if len(times) >= limit {
		l.accepted[key] = times
		return false
	}
	l.accepted[key] = append(times, now)
	return true
}
