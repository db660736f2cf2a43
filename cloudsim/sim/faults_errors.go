package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// This file is the faults file's "error" rule: any action can answer with any code, HTTP
// status and message, before the action runs or after it (accept-then-fail), and the
// product-specific throttling answer of a rate cap.
//
//	rules:
//	  - {product: redis, action: UpgradeInstance, fault: error, code: ResourceUnavailable.AccountBalanceNotEnough,
//	     message: "The account balance is not enough."}
//	  - {product: dds, action: UpgradeDBInstanceKernelVersion, fault: error, code: Forbidden.RAM, status: 403}
//	  - {product: alikafka, action: GetInstanceList, fault: error, code: "500", status: 200}   # HTTP 200, Success:false, Code 500
//	  - {product: amqp-open, action: UpdateInstance, fault: error, code: InternalError, status: 500, after: accept}
//
// Alibaba RPC answers the code as its error body with the status (default 400); status 200
// is the HTTP 200 {"Success": false, "Code", "Message"} refusal alikafka and amqp-open
// send, whose Code is written as a number when it is one (the models type it as an
// integer; amqp-open's Success is the string "false"). Tencent answers every code as HTTP
// 200 with Response.Error, as the API does (status is then only for a non-API gateway
// failure: 5xx answers that status with the same body). `after: accept` runs the action
// first, so the change is made, and then answers the error: what the caller sees is a
// refusal of a change that happened.

// FaultError answers the rule's code, status and message.
const FaultError FaultKind = "error"

// afterAccept is `after: accept`.
const afterAccept = "accept"

// errorFault is the part of a fault rule only "error" rules use.
type errorFault struct {
	Code    string `yaml:"code"`
	Status  int    `yaml:"status"`
	Message string `yaml:"message"`
	After   string `yaml:"after"` // "" (refuse, nothing happens) or "accept"
}

// validate checks an error rule, or refuses error fields on another kind of rule.
func (r *faultRule) validateError(i int) error {
	if r.Fault != FaultError {
		if r.Code != "" || r.Status != 0 || r.Message != "" || r.After != "" {
			return fmt.Errorf("sim: faults: rules[%d]: code, status, message and after are only for fault: error", i)
		}
		return nil
	}
	switch {
	case r.Code == "":
		return fmt.Errorf("sim: faults: rules[%d]: fault error needs a code, e.g. Forbidden.RAM", i)
	case r.Status != 0 && (r.Status < 200 || r.Status > 599):
		return fmt.Errorf("sim: faults: rules[%d]: status %d is not an HTTP status", i, r.Status)
	case r.After != "" && r.After != afterAccept:
		return fmt.Errorf("sim: faults: rules[%d]: after %q: the only value is accept", i, r.After)
	}
	return nil
}

// acceptFirst reports whether the rule lets the action run before answering its error.
func (r *faultRule) acceptFirst() bool { return r.Fault == FaultError && r.After == afterAccept }

// errorAnswerFor answers an error rule's code for the call's protocol and product.
func (s *Server) errorAnswerFor(c *call, r *faultRule) answer {
	msg := r.Message
	if msg == "" {
		msg = "Injected by the simulator's faults file."
	}
	status := r.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if c.proto == RPC && status == http.StatusOK {
		return answer{status: http.StatusOK, body: successFalseBody(c.rec.Product, r.Code, msg, c.rec.RequestID), code: r.Code}
	}
	a := s.errorAnswer(c, &APIError{Status: status, Code: r.Code, Message: msg})
	if c.proto == TC3 && status >= 500 {
		a.status = status
	}
	return a
}

// successFalseBody is an HTTP 200 refusal: {"RequestId", "Success": false, "Code",
// "Message"}, Code a JSON number when it is one.
func successFalseBody(product, code, msg, requestID string) []byte {
	var codeField any = code
	if n, err := strconv.Atoi(code); err == nil {
		codeField = n
	}
	var success any = false
	if product == "amqp-open" {
		success = "false"
	}
	b, _ := json.Marshal(map[string]any{"RequestId": requestID, "Success": success, "Code": codeField, "Message": msg})
	return b
}

// throttledFor is a product's answer over its rate cap: alikafka's system flow control
// (ONS_SYSTEM_FLOW_CONTROL, which Alibaba's own Terraform provider retries), else the
// cloud's throttling error.
func throttledFor(p Protocol, product string) *APIError {
	if product == "alikafka" {
		return Errorf(http.StatusBadRequest, "ONS_SYSTEM_FLOW_CONTROL", "The system is under flow control; try again later.")
	}
	return throttled(p)
}

// BodyRefusal is an action's answer that refuses in an HTTP 200 body ({"Success": false,
// "Code": ...}): the call log records its code, so it does not count as accepted.
type BodyRefusal interface {
	RefusalCode() string
}

// refusalCode is the code of a body refusal, "" for any other answer.
func refusalCode(out any) string {
	if r, ok := out.(BodyRefusal); ok {
		return r.RefusalCode()
	}
	return ""
}
