package amqp

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

// editionRank orders subscription editions: a higher rank is an upgrade; 0 is unknown.
func editionRank(t string) int {
	switch t {
	case "professional":
		return 1
	case "enterprise":
		return 2
	case "vip":
		return 3
	}
	return 0
}

type tagVO struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// instanceVO carries the fields of the SDK's amqp_open.InstanceVO.
type instanceVO struct {
	InstanceId        string  `json:"InstanceId"`
	InstanceName      string  `json:"InstanceName"`
	Status            string  `json:"Status"`
	InstanceType      string  `json:"InstanceType"`
	OrderType         string  `json:"OrderType"`
	MaxTps            int64   `json:"MaxTps"`
	MaxEipTps         int64   `json:"MaxEipTps"`
	MaxQueue          int64   `json:"MaxQueue"`
	StorageSize       int64   `json:"StorageSize"`
	SupportEIP        bool    `json:"SupportEIP"`
	MaxVhost          int64   `json:"MaxVhost"`
	PrivateEndpoint   string  `json:"PrivateEndpoint"`
	AutoRenewInstance bool    `json:"AutoRenewInstance"`
	OrderCreateTime   int64   `json:"OrderCreateTime"`
	ExpireTime        int64   `json:"ExpireTime"`
	Tags              []tagVO `json:"Tags"`
}

// instanceDetail is GetInstance's Data: the list fields plus the ones only GetInstance has.
type instanceDetail struct {
	instanceVO
	MaxConnections int64 `json:"MaxConnections"`
	SupportTracing bool  `json:"SupportTracing"`
	// Absent while tracing is off: the model's values are 3, 7 and 15 days only.
	TracingStorageTime   int64  `json:"TracingStorageTime,omitempty"`
	EncryptedInstance    bool   `json:"EncryptedInstance"`
	KmsKeyId             string `json:"KmsKeyId"`
	Edition              string `json:"Edition"`
	ServerlessChargeType string `json:"ServerlessChargeType,omitempty"`
}

func (inst *Instance) vo() instanceVO {
	tags := sim.SortedTags(inst.Tags, func(k, v string) tagVO { return tagVO{Key: k, Value: v} })
	return instanceVO{
		InstanceId:      inst.ID,
		InstanceName:    inst.Name,
		Status:          inst.Status,
		InstanceType:    strings.ToUpper(inst.InstanceType),
		OrderType:       inst.OrderType,
		MaxTps:          inst.MaxPrivateTps,
		MaxEipTps:       inst.MaxEipTps,
		MaxQueue:        inst.QueueCapacity,
		StorageSize:     inst.storageSize(),
		SupportEIP:      inst.SupportEip,
		MaxVhost:        inst.MaxVhost,
		PrivateEndpoint: inst.ID + ".mq-amqp." + inst.Region + "-a.aliyuncs.com",
		Tags:            tags,
	}
}

func (p *Product) listInstances(r *sim.Request) (any, error) {
	raw := r.Params.Get("MaxResults")
	if raw == "" {
		return nil, sim.Errorf(http.StatusBadRequest, "MissingParameter", "MaxResults is mandatory for this action.")
	}
	maxResults, err := sim.MaxResults(raw)
	if err != nil {
		return nil, err
	}
	after, err := sim.NextTokenAfter(r)
	if err != nil {
		return nil, err
	}
	insts, next := sim.PageAfter(p.instances.List(r, nil, nil), after, maxResults)
	page := make([]instanceVO, 0, len(insts))
	for _, inst := range insts {
		page = append(page, inst.vo())
	}
	return map[string]any{"Data": map[string]any{"Instances": page, "NextToken": next, "MaxResults": maxResults}}, nil
}

func (p *Product) getInstance(r *sim.Request) (any, error) {
	id := r.Params.Get("InstanceId")
	if id == "" {
		return nil, sim.Errorf(http.StatusBadRequest, "MissingParameter", "InstanceId is mandatory for this action.")
	}
	inst, ok := p.instances.Visible(r, id)
	if !ok {
		return nil, sim.Errorf(http.StatusNotFound, "InstanceNotExist", "The instance %s does not exist.", id)
	}
	d := instanceDetail{
		instanceVO:           inst.vo(),
		MaxConnections:       inst.MaxConnections,
		SupportTracing:       inst.SupportTracing,
		TracingStorageTime:   inst.TracingStorageTime,
		EncryptedInstance:    inst.Encrypted,
		KmsKeyId:             inst.KmsKeyID,
		Edition:              inst.Edition,
		ServerlessChargeType: inst.ServerlessChargeType,
	}
	return map[string]any{"Data": d}, nil
}

func (p *Product) updateInstance(r *sim.Request) (any, error) {
	id := r.Params.Get("InstanceId")
	if id == "" {
		return nil, sim.Errorf(http.StatusBadRequest, "MissingParameter", "InstanceId is mandatory for this action.")
	}
	modify := r.Params.Get("ModifyType")
	switch modify {
	case "UPGRADE", "DOWNGRADE":
	case "":
		return nil, sim.Errorf(http.StatusBadRequest, "MissingParameter", "ModifyType is mandatory for this action.")
	default:
		return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.ModifyType", "ModifyType must be UPGRADE or DOWNGRADE, got %q.", modify)
	}
	tok := r.Params.Get("ClientToken")
	if len(tok) > 64 {
		return nil, sim.Errorf(http.StatusBadRequest, "InvalidParameter.ClientToken", "ClientToken must be at most 64 characters.")
	}
	if answer, seen, err := p.tokens.Replay(r, tok); seen || err != nil {
		return answer, err
	}
	inst, ok := p.instances.Visible(r, id)
	if !ok {
		return nil, sim.Errorf(http.StatusNotFound, "InstanceNotExist", "The instance %s does not exist.", id)
	}
	switch inst.Status {
	case StatusServing:
	case StatusDeploying:
		return nil, sim.Errorf(http.StatusBadRequest, "InstanceUpgradeOrDownGradeTopicMigrating", "Data migration is in progress for an instance upgrade/downgrade. Please wait for completion.")
	default:
		return nil, sim.Errorf(http.StatusBadRequest, "InvalidInstanceStatus", "The instance %s is %s and cannot be changed.", id, inst.Status)
	}
	if inst.UpdateDeniedFor(r.Account.Name) {
		return nil, sim.Errorf(http.StatusForbidden, "UnauthorizedOperation", "The request has failed due to unauthorized operation.")
	}
	next, dedicated, err := inst.nextSpec(r.Params, modify)
	if err != nil {
		return nil, err
	}
	if inst.Overdue && modify == "UPGRADE" {
		return nil, sim.Errorf(http.StatusBadRequest, "INSUFFICIENT_AVAILABLE_QUOTA", "Your account available limit is less than 0, please recharge before trying to purchase.")
	}

	inst.Orders++
	p.nextOrder++
	order := p.nextOrder
	fail := r.FailUpgrade(id)
	d := r.Duration(StateKey, DefaultDuration)
	r.Apply(sim.Diff(id, inst.Spec, next), func(time.Time) {
		inst.Status = StatusDeploying
		r.After(d, func(time.Time) {
			if fail {
				// The change is rolled back: SERVING again with the old spec.
				inst.Status = StatusServing
				return
			}
			inst.Spec = next
			if dedicated {
				inst.Edition = "dedicated"
			}
			inst.Status = StatusServing
		})
	})
	answer := map[string]any{
		"Code":       200,
		"Success":    "true",
		"StatusCode": "200",
		"Message":    "operation success",
		"Data":       map[string]any{"instanceId": id, "orderId": order},
	}
	p.tokens.Remember(r, tok, answer)
	return answer, nil
}

// delta is one changed value and its direction: +1 up, -1 down, 0 neither.
type delta struct {
	param    string
	from, to string
	dir      int
}

func sign(d int64) int {
	switch {
	case d > 0:
		return 1
	case d < 0:
		return -1
	}
	return 0
}

func boolDir(from, to bool) int {
	switch {
	case to && !from:
		return 1
	case from && !to:
		return -1
	}
	return 0
}

// nextSpec applies the request's parameters to the instance's spec, enforcing the API's
// rules: it returns the new spec and whether the instance becomes dedicated.
func (inst *Instance) nextSpec(params url.Values, modify string) (Spec, bool, error) {
	next := inst.Spec
	var deltas []delta
	bad := func(param, format string, args ...any) error {
		return sim.Errorf(http.StatusBadRequest, "InvalidParameter."+param, format, args...)
	}

	if v, ok := param(params, "InstanceType"); ok {
		if inst.OrderType != "PRE_PAID" {
			return next, false, bad("InstanceType", "InstanceType is available only for subscription instances; %s is pay-as-you-go.", inst.ID)
		}
		v = strings.ToLower(v)
		if editionRank(v) == 0 {
			return next, false, bad("InstanceType", "InstanceType must be professional, enterprise or vip, got %q.", v)
		}
		if v != inst.InstanceType {
			deltas = append(deltas, delta{"InstanceType", inst.InstanceType, v, sign(int64(editionRank(v) - editionRank(inst.InstanceType)))})
			next.InstanceType = v
		}
	}
	for _, f := range []struct {
		param string
		field *int64
	}{
		{"MaxPrivateTps", &next.MaxPrivateTps},
		{"MaxEipTps", &next.MaxEipTps},
		{"QueueCapacity", &next.QueueCapacity},
		{"MaxConnections", &next.MaxConnections},
		{"StorageSize", &next.StorageSize},
		{"TracingStorageTime", &next.TracingStorageTime},
	} {
		v, ok := param(params, f.param)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return next, false, bad(f.param, "%s must be a non-negative integer, got %q.", f.param, v)
		}
		if n != *f.field {
			deltas = append(deltas, delta{f.param, strconv.FormatInt(*f.field, 10), v, sign(n - *f.field)})
			*f.field = n
		}
	}
	for _, f := range []struct {
		param string
		field *bool
	}{
		{"SupportEip", &next.SupportEip},
		{"SupportTracing", &next.SupportTracing},
	} {
		v, ok := param(params, f.param)
		if !ok {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return next, false, bad(f.param, "%s must be true or false, got %q.", f.param, v)
		}
		if b != *f.field {
			deltas = append(deltas, delta{f.param, strconv.FormatBool(*f.field), v, boolDir(*f.field, b)})
			*f.field = b
		}
	}
	if v, ok := param(params, "ServerlessChargeType"); ok {
		if inst.OrderType != "POST_PAID" {
			return next, false, bad("ServerlessChargeType", "ServerlessChargeType is available only for pay-as-you-go instances; %s is a subscription instance.", inst.ID)
		}
		if v != "onDemand" {
			return next, false, bad("ServerlessChargeType", "ServerlessChargeType must be onDemand, got %q.", v)
		}
		if v != inst.ServerlessChargeType {
			deltas = append(deltas, delta{"ServerlessChargeType", inst.ServerlessChargeType, v, 0})
			next.ServerlessChargeType = v
		}
	}

	encRaw, encSent := param(params, "EncryptedInstance")
	kms, kmsSent := param(params, "KmsKeyId")
	dedicated := false
	if encSent || kmsSent {
		if inst.Edition == "dedicated" {
			return next, false, bad("EncryptedInstance", "EncryptedInstance and KmsKeyId cannot be changed on a dedicated instance; do not include them when upgrading or downgrading %s.", inst.ID)
		}
		enc := false
		if encSent {
			b, err := strconv.ParseBool(encRaw)
			if err != nil {
				return next, false, bad("EncryptedInstance", "EncryptedInstance must be true or false, got %q.", encRaw)
			}
			enc = b
		}
		switch {
		case enc && kms == "":
			return next, false, sim.Errorf(http.StatusBadRequest, "MissingParameter.KmsKeyId", "KmsKeyId is required when EncryptedInstance is true.")
		case !enc && kmsSent:
			return next, false, bad("KmsKeyId", "KmsKeyId is used only with EncryptedInstance=true.")
		case enc:
			deltas = append(deltas, delta{"EncryptedInstance", "false", "true", 1})
			next.Encrypted, next.KmsKeyID = true, kms
			dedicated = true
		}
	}

	if len(deltas) == 0 {
		return next, false, sim.Errorf(http.StatusBadRequest, "InvalidParameter.SpecNotChanged", "The requested specification of %s equals the current one.", inst.ID)
	}
	for _, d := range deltas {
		if (modify == "UPGRADE" && d.dir < 0) || (modify == "DOWNGRADE" && d.dir > 0) {
			way := "up"
			if d.dir < 0 {
				way = "down"
			}
			return next, false, bad("ModifyType", "ModifyType is %s but %s goes %s from %s to %s.", modify, d.param, way, d.from, d.to)
		}
	}
	return next, dedicated, nil
}

// param returns a parameter's value when the request carries it.
func param(params url.Values, name string) (string, bool) {
	vs, ok := params[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// Act is another actor's change of a RabbitMQ instance's spec (the desired field names)
// while it serves.
func (p *Product) Act(id string, set map[string]any) (sim.Change, func(time.Time), error) {
	return p.instances.Act(id, set, func(inst *Instance) string { return sim.NotReady(inst.Status, StatusServing) })
}
