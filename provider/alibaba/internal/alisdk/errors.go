package alisdk

import (
	"bytes"
	"context"
	"encoding/json"
	stderrors "errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Codes alisdk gives errors that carry no cloud error code.
const (
	CodeSDKPanic = "SDK.Panic"        // the SDK panicked inside the call
	CodeNetwork  = "SDK.NetworkError" // no HTTP answer
)

// Classify turns an error from the Alibaba SDK into a *provider.Error (Kind, Action and
// Instance are left for the caller):
//
//   - *errors.ServerError: Code, Message, RequestId and HTTP status from the answer;
//     Throttling* → ClassThrottled; HTTP 5xx, InternalError*, ServiceUnavailable* →
//     ClassRetryable; everything else (validation, auth, not found, state) → ClassPermanent.
//   - SignatureNonceUsed: the same signed request arrived twice (the transport resent it
//     after a lost answer) → ClassRetryable for a read, ClassUnknown for a mutating call.
//   - a network error where nothing reached the server (dial failure, connection refused,
//     DNS) → ClassRetryable.
//   - a network error after the request may have been written (timeout, EOF, connection
//     reset): for a mutating call the outcome is unknown → ClassUnknown, so the executor
//     re-reads state before sending again; for a read → ClassRetryable, since re-reading
//     changes nothing.
//   - a 2xx answer whose body the SDK cannot decode (SDK.JsonUnmarshalError: cut short
//     by a closed connection, a proxy's page): the call may have been accepted →
//     ClassUnknown for a mutating call, ClassRetryable for a read.
//   - anything else (a certificate error, a bad parameter) → ClassPermanent.
func Classify(err error, mutating bool) *provider.Error {
	return classify(err, mutating, nil)
}

// classify is Classify for a call that carried secrets: they are masked in the cloud's
// Message before it is cut short, so the cut cannot leave a prefix of one behind (Invoke
// masks the rest of the error afterwards).
func classify(err error, mutating bool, secrets []string) *provider.Error {
	if err == nil {
		return nil
	}
	var se *errors.ServerError
	if stderrors.As(err, &se) {
		class := classifyServer(se.HttpStatus(), se.ErrorCode())
		if se.ErrorCode() == CodeNonceUsed {
			// This very signed request reached the server before: net/http resends a GET
			// whose answer was lost on a reused connection (RabbitMQ's ListInstances is a
			// GET), with the nonce the server already took. A read signed afresh will
			// pass; a mutating call's first copy may have been applied.
			class = provider.ClassRetryable
			if mutating {
				class = provider.ClassUnknown
			}
		}
		return &provider.Error{
			Class:      class,
			Code:       se.ErrorCode(),
			Message:    serverMessage(se, secrets),
			RequestID:  se.RequestId(),
			HTTPStatus: se.HttpStatus(),
			Err:        withoutStringToSign(err),
		}
	}
	cause := err
	code := ""
	var ce *errors.ClientError
	if stderrors.As(err, &ce) {
		code = ce.ErrorCode()
		if ce.OriginError() != nil {
			cause = ce.OriginError()
		}
	}
	if class, ok := classifyNetwork(cause, mutating); ok {
		if code == "" {
			code = CodeNetwork
		}
		return &provider.Error{Class: class, Code: code, Message: withoutQuery(cause).Error(), Err: withoutQuery(err)}
	}
	msg := withoutQuery(err).Error()
	if ce != nil {
		msg = ce.Message()
		if ce.OriginError() != nil {
			msg += ": " + withoutQuery(ce.OriginError()).Error()
		}
	}
	class := provider.ClassPermanent
	if code == errors.JsonUnmarshalErrorCode {
		// The server answered 2xx with a body that is not the answer (cut short by a
		// closed connection, a proxy's page): a mutating call may have been accepted.
		class = provider.ClassRetryable
		if mutating {
			class = provider.ClassUnknown
		}
	}
	return &provider.Error{Class: class, Code: code, Message: msg, Err: withoutQuery(err)}
}

// withoutQuery returns err with the query of the request URL it carries removed. The SDK
// sends RPC parameters in the query and Go's HTTP client quotes the whole URL in a
// transport error ("Post \"http://host/?...&Parameters=...\": EOF"); a parameter may hold a
// resolved secret, so neither the message nor the error chain may keep it. The result
// still unwraps to the transport error (io.EOF, timeouts) for classification.
func withoutQuery(err error) error {
	origin := err
	var ce *errors.ClientError
	if stderrors.As(err, &ce) && ce.OriginError() != nil {
		origin = ce.OriginError() // ClientError does not unwrap
	}
	var ue *url.Error
	if !stderrors.As(origin, &ue) || !strings.Contains(ue.URL, "?") {
		return err
	}
	clean := *ue
	clean.URL, _, _ = strings.Cut(ue.URL, "?")
	msg := strings.ReplaceAll(err.Error(), strconv.Quote(ue.URL), strconv.Quote(clean.URL))
	msg = strings.ReplaceAll(msg, ue.URL, clean.URL)
	return &redactedError{msg: msg, err: &clean}
}

// redactedError is a transport error whose text had the request's query removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// serverMessage is the cloud's Message with the call's secrets masked; when the body was
// not the usual JSON the SDK puts the whole body there, which is kept but cut short (on a
// rune boundary). The secrets are masked first: a cloud that echoes the request's
// parameters late in a long message would otherwise leave a cut-off prefix of a secret,
// which no later whole-value match recognises.
func serverMessage(se *errors.ServerError, secrets []string) string {
	m := se.Message()
	// Alibaba echoes its string to sign on SignatureDoesNotMatch; it holds every request
	// parameter, which may be a resolved secret.
	if i := strings.Index(m, errors.MessageContain); i >= 0 {
		m = strings.TrimSpace(m[:i])
	}
	return cut(maskSecrets(m, secrets), maxMessage)
}

// withoutStringToSign returns err, or, when the answer echoed the server's string to sign
// (SignatureDoesNotMatch), an error with the same text minus that string: it holds every
// request parameter, which may be a resolved secret, and the ServerError's own text keeps
// it whole.
func withoutStringToSign(err error) error {
	text := err.Error()
	i := strings.Index(text, errors.MessageContain)
	if i < 0 {
		return err
	}
	rest := text[i:]
	if j := strings.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[j:]
	} else {
		rest = ""
	}
	return &redactedError{msg: strings.TrimRight(text[:i], " ") + rest}
}

// Throttling codes that do not start with "Throttling": alikafka's system flow control,
// which Alibaba's own Terraform provider retries on GetInstanceList and
// UpgradeInstanceVersion, and the gateway's Rejected.Throttling.
const (
	CodeFlowControl       = "ONS_SYSTEM_FLOW_CONTROL"
	CodeRejectedThrottled = "Rejected.Throttling"
)

// CodeNonceUsed is the answer to a request whose SignatureNonce the server has seen.
const CodeNonceUsed = "SignatureNonceUsed"

// classifyServer maps an Alibaba error code and HTTP status to a class. A numeric code of
// 500 or more (an HTTP 200 body's "Code": 500) is a server error like an HTTP 5xx.
func classifyServer(status int, code string) provider.Class {
	n, numeric := strconv.Atoi(code)
	switch {
	case strings.HasPrefix(code, "Throttling"), strings.Contains(code, ".Throttling"),
		code == CodeFlowControl, code == CodeRejectedThrottled:
		return provider.ClassThrottled
	case numeric == nil && n >= 500 && n <= 599:
		return provider.ClassRetryable
	case strings.HasPrefix(code, "InternalError"),
		strings.HasPrefix(code, "ServiceUnavailable"),
		code == "UnknownError",
		status >= 500:
		return provider.ClassRetryable
	}
	return provider.ClassPermanent
}

// classifyNetwork recognises transport errors (no HTTP answer) and says whether the request
// can have reached the server.
func classifyNetwork(err error, mutating bool) (provider.Class, bool) {
	ambiguous := provider.ClassRetryable
	if mutating {
		ambiguous = provider.ClassUnknown
	}
	var ue *url.Error
	var oe *net.OpError
	var dnsErr *net.DNSError
	switch {
	case stderrors.As(err, &dnsErr):
		return provider.ClassRetryable, true
	case stderrors.As(err, &oe) && oe.Op == "dial":
		// Dial timeouts and refusals: no byte of the request left this host.
		return provider.ClassRetryable, true
	case stderrors.Is(err, syscall.ECONNREFUSED):
		return provider.ClassRetryable, true
	case stderrors.Is(err, context.DeadlineExceeded),
		stderrors.Is(err, io.EOF),
		stderrors.Is(err, io.ErrUnexpectedEOF),
		stderrors.Is(err, syscall.ECONNRESET),
		stderrors.Is(err, syscall.EPIPE):
		return ambiguous, true
	}
	if stderrors.As(err, &ue) {
		// Timeouts (Client.Timeout exceeded while awaiting headers) and any other transport
		// failure after the connection was made.
		if isCertificate(ue) {
			return "", false
		}
		return ambiguous, true
	}
	var ne net.Error
	if stderrors.As(err, &ne) {
		return ambiguous, true
	}
	return "", false
}

func isCertificate(err error) bool {
	s := err.Error()
	return strings.Contains(s, "x509:") || strings.Contains(s, "tls: ")
}

// CheckSuccess reads an HTTP 200 answer whose body may say "Success": false (alikafka's
// boolean, amqp-open's string "false"). It returns nil when the body has no Success field
// or it is true; else a *provider.Error with the body's Code (a string, or a number written
// as one), Message and RequestId, classed like a ServerError of HTTP status 200 (so a
// throttling code is still throttled, and a numeric Code 500 retryable).
func CheckSuccess(body []byte) *provider.Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var b struct {
		Success   json.RawMessage `json:"Success"`
		Code      json.RawMessage `json:"Code"`
		Message   string          `json:"Message"`
		RequestID string          `json:"RequestId"`
	}
	if err := json.Unmarshal(body, &b); err != nil || strings.Trim(string(bytes.TrimSpace(b.Success)), `"`) != "false" {
		return nil
	}
	code := rawCode(b.Code)
	msg := b.Message
	if msg == "" {
		msg = "the API answered Success: false"
	}
	return &provider.Error{
		Class:      classifyServer(200, code),
		Code:       code,
		Message:    msg,
		RequestID:  b.RequestID,
		HTTPStatus: 200,
	}
}

func rawCode(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return strconv.Quote(string(raw))
}
