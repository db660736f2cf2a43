// Package contract owns the vendors' current API models (embedded copies, see
// models/README.md) and checks simulator answers against them: every field an answer
// carries must be in its action's model, with the model's type and enum spelling, and
// every refusal must have its cloud's error shape. It is for tests (cloudsim/simtest
// runs it on every answer of every test that starts a simulator); it must not import
// an SDK, and the simulator itself never consults it.
package contract

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

//go:embed models/alibaba models/tencent
var modelFiles embed.FS

// Model is one action's current model, as far as checking answers needs it.
type Model struct {
	Cloud, Product, Version, Action string
	Request                         []Param
	Response                        map[string]Field // by path, "[]" for list elements
	Errors                          map[string]int   // documented code → HTTP status (0 unknown)
}

// Param is one request parameter of a model.
type Param struct {
	Name, Type string
	Required   bool
	Enum       []string
}

// Field is one response path of a model.
type Field struct {
	Type string
	Enum []string
}

var (
	loadOnce sync.Once
	models   map[string]*Model // by cloud/product/action
	loadErr  error
)

// Models returns every embedded model by "cloud/product/Action".
func Models() (map[string]*Model, error) {
	loadOnce.Do(func() { models, loadErr = load() })
	return models, loadErr
}

func load() (map[string]*Model, error) {
	out := map[string]*Model{}
	err := fs.WalkDir(modelFiles, "models", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		raw, err := modelFiles.ReadFile(p)
		if err != nil {
			return err
		}
		var doc struct {
			Cloud, Product, Version, Action string
			Request                         []struct {
				Name, Type string
				Required   bool
				Enum       []string
			}
			Response []struct {
				Path, Type string
				Enum       []string
			}
			Errors []struct {
				Code       string
				HTTPStatus any `json:"http_status"`
			}
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("contract: %s: %w", p, err)
		}
		m := &Model{Cloud: doc.Cloud, Product: doc.Product, Version: doc.Version, Action: doc.Action, Response: map[string]Field{}, Errors: map[string]int{}}
		for _, r := range doc.Request {
			m.Request = append(m.Request, Param{Name: r.Name, Type: r.Type, Required: r.Required, Enum: r.Enum})
		}
		for _, r := range doc.Response {
			m.Response[r.Path] = Field{Type: r.Type, Enum: r.Enum}
		}
		for _, e := range doc.Errors {
			status, _ := e.HTTPStatus.(float64)
			m.Errors[e.Code] = int(status)
		}
		out[m.Cloud+"/"+m.Product+"/"+m.Action] = m
		return nil
	})
	return out, err
}

// cloudOf names the model directory of a protocol.
func cloudOf(p sim.Protocol) string {
	if p == sim.TC3 {
		return "tencent"
	}
	return "alibaba"
}

// Violation is one way an answer differs from its model.
type Violation struct {
	Product, Action string
	Path            string // the field, "" for the whole answer
	Problem         string
}

func (v Violation) String() string {
	where := v.Product + "/" + v.Action
	if v.Path != "" {
		where += " " + v.Path
	}
	return where + ": " + v.Problem
}

// Check returns how one simulator answer differs from the models, after the recorded
// exceptions and pending changes (exceptions.go). Answers of products without models
// (a test's own product) are not checked; a modelled product's action without a model
// is a violation.
func Check(a sim.Answer) []Violation {
	all, err := Models()
	if err != nil {
		return []Violation{{Product: a.Product, Action: a.Action, Problem: err.Error()}}
	}
	cloud := cloudOf(a.Protocol)
	if !hasProduct(all, cloud, a.Product, a.Version) {
		return nil
	}
	var out []Violation
	add := func(p, problem string) {
		v := Violation{Product: a.Product, Action: a.Action, Path: p, Problem: problem}
		if !excused(v) {
			out = append(out, v)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(a.Body, &doc); err != nil {
		add("", fmt.Sprintf("the answer is not a JSON object: %.60s", a.Body))
		return out
	}
	if cloud == "tencent" {
		resp, ok := doc["Response"].(map[string]any)
		// An injected unavailable fault is a gateway's 503, not an API answer.
		if !ok || len(doc) != 1 || (a.Status != 200 && a.Fault == "") {
			add("", fmt.Sprintf("HTTP %d %.80s is not Tencent's {\"Response\": {...}} at HTTP 200", a.Status, a.Body))
			return out
		}
		doc = resp
		if e, isErr := doc["Error"]; isErr {
			checkTencentError(e, doc, add)
			if m := all[cloud+"/"+a.Product+"/"+a.Action]; m != nil && a.Code != "" {
				if _, ok := m.Errors[a.Code]; !ok && !slices.Contains(tencentCommonErrors, a.Code) {
					add("Error.Code", fmt.Sprintf("%s is neither documented for the action nor a common error code", a.Code))
				}
			}
			return out
		}
	} else if a.Status < 200 || a.Status > 299 {
		checkAlibabaError(doc, add)
		return out
	}
	m := all[cloud+"/"+a.Product+"/"+a.Action]
	if m == nil {
		add("", "the simulator answers an action that has no current model")
		return out
	}
	walk(doc, "", m, add)
	return out
}

// hasProduct reports whether a product has models. An answer whose product is unknown
// (Version "": a refusal before routing) is checked for its error shape only when the
// product's name has models.
func hasProduct(all map[string]*Model, cloud, product, version string) bool {
	for _, m := range all {
		if m.Cloud == cloud && m.Product == product && (version == "" || m.Version == version) {
			return true
		}
	}
	return false
}

// tencentCommonErrors are the codes Tencent Cloud API 3.0 documents for every action
// ("公共错误码"), besides each action's own.
var tencentCommonErrors = []string{
	"AuthFailure.InvalidAuthorization", "AuthFailure.InvalidSecretId", "AuthFailure.MFAFailure",
	"AuthFailure.SecretIdNotFound", "AuthFailure.SignatureExpire", "AuthFailure.SignatureFailure",
	"AuthFailure.TokenFailure", "AuthFailure.UnauthorizedOperation", "DryRunOperation",
	"FailedOperation", "InternalError", "InvalidAction", "InvalidParameter", "InvalidParameterValue",
	"InvalidRequest", "IpInBlacklist", "IpNotInWhitelist", "LimitExceeded", "MissingParameter",
	"NoSuchProduct", "NoSuchVersion", "RequestLimitExceeded", "RequestSizeLimitExceeded",
	"ResourceInUse", "ResourceInsufficient", "ResourceNotFound", "ResourceUnavailable",
	"ResponseSizeLimitExceeded", "ServiceUnavailable", "UnauthorizedOperation", "UnknownParameter",
	"UnsupportedOperation", "UnsupportedProtocol", "UnsupportedRegion",
}

// alibabaErrorKeys is the body of every Alibaba RPC error answer.
var alibabaErrorKeys = []string{"Code", "HostId", "Message", "Recommend", "RequestId"}

func checkAlibabaError(doc map[string]any, add func(string, string)) {
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		if !slices.Contains(alibabaErrorKeys, k) {
			add(k, "an Alibaba error answer has no such field")
		}
	}
	for _, k := range alibabaErrorKeys {
		if s, ok := doc[k].(string); !ok || s == "" {
			add(k, "an Alibaba error answer carries it as a non-empty string")
		}
	}
}

func checkTencentError(e any, doc map[string]any, add func(string, string)) {
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		if k != "Error" && k != "RequestId" {
			add(k, "a Tencent error Response has only Error and RequestId")
		}
	}
	body, ok := e.(map[string]any)
	if !ok {
		add("Error", "Tencent's Error is an object {Code, Message}")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(body)) {
		if k != "Code" && k != "Message" {
			add("Error."+k, "Tencent's Error has only Code and Message")
		}
	}
	if s, ok := body["Code"].(string); !ok || s == "" {
		add("Error.Code", "Tencent's Error.Code is a non-empty string")
	}
}

// walk checks every field of v under path p against the model.
func walk(v any, p string, m *Model, add func(string, string)) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		fp := k
		if p != "" {
			fp = p + "." + k
		}
		f, ok := m.Response[fp]
		if !ok {
			add(fp, "the field is only in the simulator: the current model does not have it")
			continue
		}
		checkValue(obj[k], fp, f, m, add)
	}
}

func checkValue(v any, fp string, f Field, m *Model, add func(string, string)) {
	if f.Type == "any" {
		return
	}
	if v == nil {
		add(fp, "null where the model has "+f.Type)
		return
	}
	if elem, isList := strings.CutPrefix(f.Type, "array<"); isList {
		list, ok := v.([]any)
		if !ok {
			add(fp, fmt.Sprintf("%s where the model has %s", jsonType(v), f.Type))
			return
		}
		elem = strings.TrimSuffix(elem, ">")
		for _, e := range list {
			if elem == "object" {
				if _, ok := e.(map[string]any); !ok {
					add(fp+"[]", fmt.Sprintf("%s where the model has object", jsonType(e)))
					continue
				}
				walk(e, fp+"[]", m, add)
			} else {
				checkValue(e, fp+"[]", Field{Type: elem}, m, add)
			}
		}
		return
	}
	if !typeMatches(v, f.Type) {
		add(fp, fmt.Sprintf("%s %s where the model has %s", jsonType(v), short(v), f.Type))
		return
	}
	if f.Type == "object" {
		walk(v, fp, m, add)
		return
	}
	if len(f.Enum) > 0 && !slices.Contains(f.Enum, scalar(v)) {
		add(fp, fmt.Sprintf("%s is not one of the model's values %v", short(v), f.Enum))
	}
}

func typeMatches(v any, typ string) bool {
	switch x := v.(type) {
	case string:
		return typ == "string"
	case bool:
		return typ == "boolean"
	case float64:
		return typ == "number" || typ == "integer" && x == math.Trunc(x)
	case map[string]any:
		return typ == "object"
	}
	return false
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "null"
}

// scalar renders a value as the models spell enum members.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
