package mongodb

import (
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/dds"
)

// The answers of DescribeDBInstanceAttribute and DescribeDBInstances, decoded by the SDK
// (its jsoniter decoder, on the body it read) into structs with only the fields fromSDK
// reads. The SDK's DBInstance has some sixty fields, several of them lists of structs
// (MongosList, ShardList, NetworkAddresses, ...), for its reflection decoder to fill on
// every instance of every page: plan sends one attribute read per MongoDB instance, and
// apply's polls page through the listings of the types they follow. The field names are
// the SDK's (and the API's); answers_test.go checks both decodings agree on the
// simulator's answers.

// attributeAnswer is DescribeDBInstanceAttribute's answer.
type attributeAnswer struct {
	*responses.BaseResponse
	RequestId   string        `json:"RequestId" xml:"RequestId"`
	DBInstances leanInstances `json:"DBInstances" xml:"DBInstances"`
}

// listAnswer is one page of DescribeDBInstances.
type listAnswer struct {
	*responses.BaseResponse
	RequestId   string        `json:"RequestId" xml:"RequestId"`
	TotalCount  int           `json:"TotalCount" xml:"TotalCount"`
	PageSize    int           `json:"PageSize" xml:"PageSize"`
	PageNumber  int           `json:"PageNumber" xml:"PageNumber"`
	DBInstances leanInstances `json:"DBInstances" xml:"DBInstances"`
}

// leanInstances is both answers' DBInstances.
type leanInstances struct {
	DBInstance []leanInstance `json:"DBInstance" xml:"DBInstance"`
}

// leanInstance is the part of dds.DBInstance that fromSDK reads, with its names and types.
type leanInstance struct {
	DBInstanceId         string `json:"DBInstanceId" xml:"DBInstanceId"`
	DBInstanceStatus     string `json:"DBInstanceStatus" xml:"DBInstanceStatus"`
	DBInstanceType       string `json:"DBInstanceType" xml:"DBInstanceType"`
	EngineVersion        string `json:"EngineVersion" xml:"EngineVersion"`
	CurrentKernelVersion string `json:"CurrentKernelVersion" xml:"CurrentKernelVersion"`
	ReplicationFactor    string `json:"ReplicationFactor" xml:"ReplicationFactor"`
	Tags                 struct {
		Tag []leanTag `json:"Tag" xml:"Tag"`
	} `json:"Tags" xml:"Tags"`
}

// leanTag is the part of dds.Tag that fromSDK reads.
type leanTag struct {
	Key   string `json:"Key" xml:"Key"`
	Value string `json:"Value" xml:"Value"`
}

// sdk is the instance as the SDK's struct, with the fields fromSDK reads.
func (d leanInstance) sdk() dds.DBInstance {
	out := dds.DBInstance{DBInstanceId: d.DBInstanceId, DBInstanceStatus: d.DBInstanceStatus, DBInstanceType: d.DBInstanceType,
		EngineVersion: d.EngineVersion, CurrentKernelVersion: d.CurrentKernelVersion, ReplicationFactor: d.ReplicationFactor}
	if d.Tags.Tag != nil {
		out.Tags.Tag = make([]dds.Tag, len(d.Tags.Tag))
		for i, t := range d.Tags.Tag {
			out.Tags.Tag[i] = dds.Tag{Key: t.Key, Value: t.Value}
		}
	}
	return out
}
