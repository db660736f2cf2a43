package rabbitmq

import (
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	amqp "github.com/aliyun/alibaba-cloud-sdk-go/services/amqp-open"
)

// listAnswer is one page of ListInstances, decoded by the SDK (its jsoniter decoder, on
// the body it read) into only the fields fromList reads: the SDK's answer struct has
// lists of queues, exchanges, bindings, consumers and virtual hosts beside the instances,
// and every instance eighteen fields, for its reflection decoder to walk on every page of
// every poll that pages through the region (plan's List reads the same pages). The field
// names are the SDK's (and the API's); listanswer_test.go checks both decodings agree on
// the simulator's answers.
type listAnswer struct {
	*responses.BaseResponse
	RequestId string `json:"RequestId" xml:"RequestId"`
	Data      struct {
		NextToken  string           `json:"NextToken" xml:"NextToken"`
		MaxResults int              `json:"MaxResults" xml:"MaxResults"`
		Instances  []listedInstance `json:"Instances" xml:"Instances"`
	} `json:"Data" xml:"Data"`
}

// listedInstance is the part of amqp.InstanceVO that fromList reads, with its names and
// types.
type listedInstance struct {
	InstanceId   string          `json:"InstanceId" xml:"InstanceId"`
	Status       string          `json:"Status" xml:"Status"`
	InstanceType string          `json:"InstanceType" xml:"InstanceType"`
	MaxTps       int             `json:"MaxTps" xml:"MaxTps"`
	MaxQueue     int             `json:"MaxQueue" xml:"MaxQueue"`
	StorageSize  int             `json:"StorageSize" xml:"StorageSize"`
	SupportEIP   bool            `json:"SupportEIP" xml:"SupportEIP"`
	MaxEipTps    int             `json:"MaxEipTps" xml:"MaxEipTps"`
	OrderType    string          `json:"OrderType" xml:"OrderType"`
	Tags         []amqp.TagsItem `json:"Tags" xml:"Tags"`
}

// vo is the instance as the SDK's struct, with the fields fromList reads.
func (l listedInstance) vo() amqp.InstanceVO {
	return amqp.InstanceVO{
		InstanceId: l.InstanceId, Status: l.Status, InstanceType: l.InstanceType, MaxTps: l.MaxTps,
		MaxQueue: l.MaxQueue, StorageSize: l.StorageSize, SupportEIP: l.SupportEIP, MaxEipTps: l.MaxEipTps,
		OrderType: l.OrderType, Tags: l.Tags,
	}
}
