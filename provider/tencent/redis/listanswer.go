package redis

import (
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	tcredis "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/redis/v20180412"
)

// describeAnswer is DescribeInstances' answer with only the fields List reads. The SDK's
// InstanceSet has some 70 fields, each a pointer the decoder allocates; a page of 1,000
// instances decoded into it costs several times what the plan needs (a plan of 56,000
// Redis instances spent most of its CPU there). Unknown fields are skipped by the decoder.
type describeAnswer struct {
	*tchttp.BaseResponse
	Response *describeResult `json:"Response"`
}

// describeResult is the answer's Response.
type describeResult struct {
	TotalCount  *int64            `json:"TotalCount"`
	InstanceSet []*listedInstance `json:"InstanceSet"`
	RequestId   *string           `json:"RequestId"`
	Error       *struct {
		Code    string `json:"Code"`
		Message string `json:"Message"`
	} `json:"Error"`
}

// ParseErrorFromHTTPResponse replaces the SDK's, which decodes the whole page once more
// only to look for an error that the SDK's transport (TryReadErr) has already looked for
// in the same body; the error, should one get through, is read from the one decoding by
// err.
func (r *describeAnswer) ParseErrorFromHTTPResponse([]byte) error { return nil }

// err is the answer's error, as the SDK's own parsing returns it.
func (r *describeAnswer) err() error {
	if r.Response == nil || r.Response.Error == nil || r.Response.Error.Code == "" {
		return nil
	}
	return tcerr.NewTencentCloudSDKError(r.Response.Error.Code, r.Response.Error.Message, deref(r.Response.RequestId))
}

// listedInstance is the part of tcredis.InstanceSet that fromSet reads, with its names
// and types.
type listedInstance struct {
	InstanceId          *string                    `json:"InstanceId"`
	Region              *string                    `json:"Region"`
	Status              *int64                     `json:"Status"`
	RedisShardSize      *int64                     `json:"RedisShardSize"`
	RedisShardNum       *int64                     `json:"RedisShardNum"`
	RedisReplicasNum    *int64                     `json:"RedisReplicasNum"`
	CurrentRedisVersion *string                    `json:"CurrentRedisVersion"`
	ProductType         *string                    `json:"ProductType"`
	Type                *int64                     `json:"Type"`
	NodeSet             []*tcredis.RedisNodeInfo   `json:"NodeSet"`
	InstanceTags        []*tcredis.InstanceTagInfo `json:"InstanceTags"`
}
