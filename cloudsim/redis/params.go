package redis

// requestParams are the request parameters of each simulated action as the current
// tencentcloud-cli api.json (6e53beb521ad, redis v20180412) lists them; the server refuses
// any other with UnknownParameter and types flattened GET and v1 parameters by them.
// cloudsim/contract tests that they equal the embedded models.
var requestParams = map[string]map[string]string{
	"DescribeInstances": {
		"Limit":                   "integer",
		"Offset":                  "integer",
		"InstanceId":              "string",
		"OrderBy":                 "string",
		"OrderType":               "integer",
		"VpcIds":                  "array<string>",
		"SubnetIds":               "array<string>",
		"SearchKey":               "string",
		"ProjectIds":              "array<integer>",
		"InstanceName":            "string",
		"UniqVpcIds":              "array<string>",
		"UniqSubnetIds":           "array<string>",
		"RegionIds":               "array<integer>",
		"Status":                  "array<integer>",
		"TypeVersion":             "integer",
		"EngineName":              "string",
		"AutoRenew":               "array<integer>",
		"BillingMode":             "string",
		"Type":                    "integer",
		"SearchKeys":              "array<string>",
		"TypeList":                "array<integer>",
		"MonitorVersion":          "string",
		"InstanceTags":            "array<object>",
		"InstanceTags[].TagKey":   "string",
		"InstanceTags[].TagValue": "string",
		"TagKeys":                 "array<string>",
		"ProductVersions":         "array<string>",
		"InstanceIds":             "array<string>",
		"AzMode":                  "string",
	},
	"UpgradeInstance": {
		"InstanceId":         "string",
		"MemSize":            "integer",
		"RedisShardNum":      "integer",
		"RedisReplicasNum":   "integer",
		"NodeSet":            "array<object>",
		"NodeSet[].NodeType": "integer",
		"NodeSet[].NodeId":   "integer",
		"NodeSet[].ZoneId":   "integer",
		"NodeSet[].ZoneName": "string",
		"SwitchOption":       "integer",
	},
	"DescribeInstanceDealDetail": {
		"DealIds":  "array<string>",
		"DealName": "string",
	},
}

// RequestParams implements sim.RequestModel.
func (p *product) RequestParams(action string) map[string]string { return requestParams[action] }
