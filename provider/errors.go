package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Class says what the executor may do about an error.
type Class string

const (
	// ClassThrottled: the API refused the request for its rate limit; nothing happened.
	ClassThrottled Class = "throttled"
	// ClassRetryable: 5xx, InternalError, a network error before the request was sent.
	ClassRetryable Class = "retryable"
	// ClassUnknown: a timeout or dropped connection after the request was sent; a mutating
	// call may or may not have taken effect, so re-read before sending it again.
	ClassUnknown Class = "outcome-unknown"
	// ClassBusy: the cloud refused a mutating call because the instance is still busy with
	// an earlier change (RabbitMQ InstanceUpgradeOrDownGradeTopicMigrating); nothing
	// happened. Treat it as a busy instance before a call: wait until the instance is ready
	// again (within stepTimeout), then send the call.
	ClassBusy Class = "busy"
	// ClassPermanent: validation, auth, not found, wrong state. Retrying will not help.
	ClassPermanent Class = "permanent"
	// ClassNoChange: the cloud refused a mutating call because it had nothing to do, the
	// instance already being where the call would take it (alikafka's ONS_INIT_ENV_ERROR
	// on a latestMinor call at the latest minor version); nothing happened. The step is a
	// noop, its answer on record.
	ClassNoChange Class = "no-change"
)

// Error is a classified error from a cloud API, carrying what an auditor needs.
type Error struct {
	Class      Class
	Kind       string // "alibaba.kafka"
	Action     string
	Instance   string
	Code       string // the cloud's error code
	Message    string // the cloud's message (never a secret)
	RequestID  string
	HTTPStatus int
	Err        error // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind)
	if e.Action != "" {
		b.WriteString(" " + e.Action)
	}
	if e.Instance != "" {
		b.WriteString(" " + e.Instance)
	}
	b.WriteString(": ")
	switch {
	case e.Code != "" && e.Message != "":
		fmt.Fprintf(&b, "%s: %s", e.Code, e.Message)
	case e.Code != "":
		b.WriteString(e.Code)
	case e.Message != "":
		b.WriteString(e.Message)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString(string(e.Class) + " error")
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err: the Class of an *Error in its chain; retryable for a
// context deadline inside a request; permanent otherwise (including cancellation).
func ClassOf(err error) Class {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Class
	}
	if errors.Is(err, context.Canceled) {
		return ClassPermanent
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ClassUnknown
	}
	return ClassPermanent
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var pe *Error
	ok := errors.As(err, &pe)
	return pe, ok
}
