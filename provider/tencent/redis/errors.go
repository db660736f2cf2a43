package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/upgradeplan/upgradeplan/provider"
)

// classify turns what the SDK returned into a *provider.Error.
//
// Tencent answers every API error with HTTP 200 and Response.Error; the SDK also reports its
// own failures as *TencentCloudSDKError with ClientError.* codes. A network error on a
// mutating call is outcome-unknown unless it shows that the request never left (the
// connection was refused or the host could not be resolved): UpgradeInstance takes no
// ClientToken, so the executor must re-read the instance before sending it again.
func classify(ctx context.Context, err error, action, instance string, mutating bool) *provider.Error {
	pe := &provider.Error{Kind: Kind, Action: action, Instance: instance, Err: err}
	var sdk *tcerr.TencentCloudSDKError
	if !errors.As(err, &sdk) {
		pe.Message = err.Error()
		pe.Class = provider.ClassPermanent
		if ctx.Err() != nil {
			pe.Class = ctxClass(ctx, mutating)
		}
		return pe
	}
	pe.Code, pe.Message, pe.RequestID = sdk.Code, sdk.Message, sdk.RequestId
	pe.Class = classOf(ctx, sdk, mutating)
	return pe
}

func classOf(ctx context.Context, sdk *tcerr.TencentCloudSDKError, mutating bool) provider.Class {
	code := sdk.Code
	switch {
	case code == "RequestLimitExceeded" || strings.HasPrefix(code, "RequestLimitExceeded."):
		return provider.ClassThrottled
	case code == "InternalError" || strings.HasPrefix(code, "InternalError."),
		code == "FailedOperation.SystemError", code == "ServiceUnavailable":
		// The cloud answered: the call failed and may be sent again.
		return provider.ClassRetryable
	case code == "ClientError.NetworkError":
		if ctx.Err() != nil {
			return ctxClass(ctx, mutating)
		}
		if !mutating || notSent(sdk.Message) {
			return provider.ClassRetryable
		}
		return provider.ClassUnknown
	case code == "ClientError.HttpStatusCodeError":
		// A non-200 answer without a Tencent error body: a gateway refused the request.
		if strings.Contains(sdk.Message, "status code: 5") {
			return provider.ClassRetryable
		}
		return provider.ClassPermanent
	case code == "ClientError.ParseJsonError" || code == "ClientError.IOError":
		// The answer was cut or garbled: the request arrived, what it did is unknown.
		if mutating {
			return provider.ClassUnknown
		}
		return provider.ClassRetryable
	}
	// AuthFailure.*, the codes in redis errors.go (InvalidParameter*, LimitExceeded.*,
	// ResourceNotFound.*, ResourceUnavailable.*, UnauthorizedOperation.*, ...), MissingParameter.
	return provider.ClassPermanent
}

// ctxClass classifies a request ended by its context: a cancelled read did nothing worth
// retrying, a deadline is worth another try, and a mutating call may have been applied.
func ctxClass(ctx context.Context, mutating bool) provider.Class {
	switch {
	case mutating:
		return provider.ClassUnknown
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return provider.ClassRetryable
	default:
		return provider.ClassPermanent
	}
}

// notSent reports whether a network error shows that no byte of the request reached the
// server: the dial failed.
func notSent(msg string) bool {
	for _, s := range []string{"connection refused", "no such host", "dial tcp", "network is unreachable"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// guard runs an SDK call and turns a panic inside it into an error. For the mutating
// UpgradeInstance the request may already have been sent and accepted, so its outcome is
// unknown and the executor must re-read the instance before sending it again (as alisdk
// does for Alibaba); a read that panicked would panic again, so it is permanent.
func guard(action, instance string, mutating bool, call func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			class, msg := provider.ClassPermanent, fmt.Sprintf("the Tencent SDK panicked: %v", r)
			if mutating {
				class, msg = provider.ClassUnknown, msg+"; the request may have been sent"
			}
			err = &provider.Error{Kind: Kind, Action: action, Instance: instance, Class: class,
				Code: "ClientError.Panic", Message: msg}
		}
	}()
	return call()
}
