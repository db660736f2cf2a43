package provider

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Timeouts every provider applies to its HTTP requests. A blackholed endpoint (it accepts
// connections and never answers, or drops them) must fail a plan within 30 seconds, with a
// message naming it, instead of waiting minutes through retries.
const (
	// ConnectTimeoutEnv and AnswerTimeoutEnv override the defaults (Go durations: 2s,
	// 500ms); `plan` and `apply` set them from --connect-timeout and --answer-timeout.
	ConnectTimeoutEnv = "UPGRADEPLAN_CONNECT_TIMEOUT"
	AnswerTimeoutEnv  = "UPGRADEPLAN_ANSWER_TIMEOUT"
	// DefaultConnectTimeout bounds dialing: a cloud endpoint accepts in milliseconds.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultAnswerTimeout bounds the wait for an answer's headers; the five APIs answer
	// in well under a second, a DryRun included.
	DefaultAnswerTimeout = 10 * time.Second
	// SilentAttempts is how many timeouts in a row an endpoint that never answered gets
	// before its requests fail for good rather than being retried: 2 × 10s + backoff stays
	// under 30 seconds.
	SilentAttempts = 2
)

// Timeouts returns the connect and answer timeouts for cfg: cfg.Timeout, else the
// environment's AnswerTimeoutEnv, else DefaultAnswerTimeout (connect likewise). A variable
// that is no positive duration is an error naming it.
func Timeouts(cfg Config) (connect, answer time.Duration, err error) {
	read := func(name string, def time.Duration) (time.Duration, error) {
		v := strings.TrimSpace(cfg.Env()(name))
		if v == "" {
			return def, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%s=%q is not a positive duration such as 5s or 500ms", name, v)
		}
		return d, nil
	}
	if connect, err = read(ConnectTimeoutEnv, DefaultConnectTimeout); err != nil {
		return 0, 0, err
	}
	if answer, err = read(AnswerTimeoutEnv, DefaultAnswerTimeout); err != nil {
		return 0, 0, err
	}
	if cfg.Timeout > 0 {
		answer = cfg.Timeout
	}
	return connect, answer, nil
}

// CheckEndpoint refuses an endpoint override that is not host:port, at once and naming the
// variable that set it, instead of letting every request fail and be retried.
func CheckEndpoint(variable, value string) error {
	host, port, err := net.SplitHostPort(value)
	if err == nil && host != "" && !strings.ContainsAny(host, "/ ") {
		if n, perr := strconv.Atoi(port); perr == nil && n > 0 && n < 65536 {
			return nil
		}
	}
	return fmt.Errorf("%s=%q is not host:port (e.g. 127.0.0.1:40123, plain HTTP)", variable, value)
}

// Silence tells an endpoint that has never answered from one that is slow for a moment. A
// provider records every answer and every timeout; once an endpoint that never answered has
// timed out SilentAttempts times, Record says to give up. Safe for concurrent use.
type Silence struct {
	// Endpoint and Variable name the endpoint in the error: "127.0.0.1:40123" set by
	// UPGRADEPLAN_ALIBABA_ENDPOINT, or a real endpoint (Variable "").
	Endpoint, Variable string
	// EnvVar is the variable that points the provider at another endpoint (set or not),
	// named when a real endpoint cannot be reached: the user likely meant the simulator.
	EnvVar          string
	Connect, Answer time.Duration

	mu          sync.Mutex
	answered    bool
	timeouts    int
	unreachable int
	lastErr     string
}

// Observe notes one request's outcome from its error (nil, an HTTP answer, or a transport
// failure) and returns a permanent error once an endpoint that never answered has timed out
// or been unreachable (connection refused, unknown host) SilentAttempts times in a row, so
// that plan fails in seconds, naming the endpoint and the variable to set, instead of
// retrying for tens of seconds and printing a chain of transport errors.
func (s *Silence) Observe(answered bool, err error) error {
	if answered || err == nil {
		return s.Record(true, false)
	}
	if IsUnreachable(err) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.answered {
			return nil
		}
		s.unreachable++
		s.lastErr = unreachableWhy(err)
		if s.unreachable >= SilentAttempts {
			return errors.New(s.unreachableMessage())
		}
		return nil
	}
	return s.Record(false, IsTimeout(err))
}

func (s *Silence) unreachableMessage() string {
	if s.Variable != "" {
		return fmt.Sprintf("nothing answers at %s (set by %s): %s; is the simulator running there (upgradeplan sim --listen %s)?",
			s.Endpoint, s.Variable, s.lastErr, s.Endpoint)
	}
	hint := ""
	if s.EnvVar != "" {
		hint = fmt.Sprintf("; %s is not set, so this is the product's real endpoint: to use the simulator, export %s=HOST:PORT", s.EnvVar, s.EnvVar)
	}
	return fmt.Sprintf("cannot reach %s: %s%s", s.Endpoint, s.lastErr, hint)
}

// IsUnreachable reports whether err says no server could be reached at all: the host does
// not resolve, or nothing listens on the port.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host")
}

func unreachableWhy(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no such host"):
		return "no such host"
	case strings.Contains(msg, "connection refused"):
		return "connection refused"
	}
	return "unreachable"
}

// Record notes one request's outcome: answered (any HTTP answer, an error one too), or
// timedOut. It returns a permanent error when the endpoint never answered and has now
// timed out SilentAttempts times; nil otherwise.
func (s *Silence) Record(answered, timedOut bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case answered:
		s.answered, s.timeouts = true, 0
	case timedOut && !s.answered:
		s.timeouts++
		if s.timeouts >= SilentAttempts {
			return errors.New(s.message())
		}
	}
	return nil
}

func (s *Silence) message() string {
	from := "the product's endpoint"
	if s.Variable != "" {
		from = "set by " + s.Variable
	}
	return fmt.Sprintf("endpoint %s (%s) never answered: %d requests timed out (connect timeout %s, answer timeout %s; %s and %s change them); check the endpoint",
		s.Endpoint, from, s.timeouts, s.Connect, s.Answer, ConnectTimeoutEnv, AnswerTimeoutEnv)
}

// IsTimeout reports whether err is a transport timeout (dialing or awaiting the answer), as
// the SDKs report it, wrapped or only in words.
func IsTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "Client.Timeout exceeded") || strings.Contains(msg, "timeout awaiting response headers") ||
		strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "context deadline exceeded")
}
