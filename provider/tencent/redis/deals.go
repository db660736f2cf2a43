package redis

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	tcredis "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/redis/v20180412"

	"github.com/upgradeplan/upgradeplan/provider"
)

// This file is the order side of a spec change: UpgradeInstance answers DealId (deprecated
// in the current API) and DealName (its replacement, which the linked SDK's response type
// lacks, so the answer is decoded here), and DescribeInstanceDealDetail tells delivered
// from failed. The current API takes at most 10 DealIds per call, or one DealName.

// dealBatch bounds DealIds per DescribeInstanceDealDetail call (the API's array limit).
const dealBatch = 10

// Deal statuses (TradeDealDetail.Status): 1 unpaid, 2 paid, 3 delivering, 12 paying are on
// the way; 4 is delivered; 5 delivery failed, 6 refunded, 7 closed, 8 expired, 9 invalid,
// 10 product invalid, 11 proxy payment refused end the order without the change.
const (
	dealDelivered = 4
	dealFailed    = 5
	dealPaying    = 12
)

var dealStatusNames = map[int64]string{
	1: "unpaid", 2: "paid, not delivered", 3: "delivering", 4: "delivered", 5: "delivery failed",
	6: "refunded", 7: "order closed", 8: "order expired", 9: "order invalid", 10: "product invalid",
	11: "proxy payment refused", 12: "paying",
}

// dealEnded reports whether a deal status ends the order without the change.
func dealEnded(status int64) bool { return status >= dealFailed && status < dealPaying }

// upgradeResponse is UpgradeInstance's answer with DealName, which the linked SDK lacks.
type upgradeResponse struct {
	*tchttp.BaseResponse
	Response *struct {
		DealId    *string `json:"DealId,omitempty"`
		DealName  *string `json:"DealName,omitempty"`
		RequestId *string `json:"RequestId,omitempty"`
	} `json:"Response"`
}

// dealDetailRequest is DescribeInstanceDealDetail with DealName, which the linked SDK's
// request type lacks.
type dealDetailRequest struct {
	*tchttp.BaseRequest
	DealIds  []*string `json:"DealIds,omitempty" name:"DealIds"`
	DealName *string   `json:"DealName,omitempty" name:"DealName"`
}

func newDealDetailRequest() *dealDetailRequest {
	r := &dealDetailRequest{BaseRequest: &tchttp.BaseRequest{}}
	r.Init().WithApiInfo("redis", tcredis.APIVersion, ActionDescribeInstanceDealDetail)
	return r
}

// deal is an order's handle as UpgradeInstance answered it: its DealId, or, where the
// answer had none (the field is deprecated), its DealName.
type deal struct {
	key    string // DealId, or DealName when byName
	byName bool
}

// dealOf is the order a Receipt (or a watch, which carries the receipt's two handles)
// names. The receipt's OrderID is the DealId when the answer had one and the DealName
// otherwise, so an OrderID equal to the OrderName is asked for by DealName: both are
// digits, and no shape tells them apart. Without an OrderName (a record from before
// OrderName was kept) a DealId is told by being a number.
func dealOf(orderID, orderName string) deal {
	if orderName != "" {
		return deal{key: orderID, byName: orderID == orderName}
	}
	_, err := strconv.ParseUint(orderID, 10, 64)
	return deal{key: orderID, byName: err != nil}
}

// dealDetails asks DescribeInstanceDealDetail about the deals: DealIds 10 per call, each
// DealName on its own. The answers are keyed by the deal's key.
func (p *Provider) dealDetails(ctx context.Context, deals map[deal][]int) (map[string]*tcredis.TradeDealDetail, error) {
	var ids, names []string
	for d := range deals {
		if d.byName {
			names = append(names, d.key)
		} else {
			ids = append(ids, d.key)
		}
	}
	sort.Strings(ids)
	sort.Strings(names)
	var batches []*dealDetailRequest
	for len(ids) > 0 {
		n := min(len(ids), dealBatch)
		req := newDealDetailRequest()
		for _, id := range ids[:n] {
			req.DealIds = append(req.DealIds, ptr(id))
		}
		batches = append(batches, req)
		ids = ids[n:]
	}
	for _, name := range names {
		req := newDealDetailRequest()
		req.DealName = ptr(name)
		batches = append(batches, req)
	}
	out := map[string]*tcredis.TradeDealDetail{}
	for _, req := range batches {
		resp := tcredis.NewDescribeInstanceDealDetailResponse()
		err := p.do(ctx, ActionDescribeInstanceDealDetail, "", func(ctx context.Context) error {
			req.SetContext(ctx)
			return p.client.Send(req, resp)
		})
		if err != nil {
			return nil, err
		}
		if resp.Response == nil {
			continue
		}
		for _, d := range resp.Response.DealDetails {
			if d == nil {
				continue
			}
			if d.DealId != nil {
				out[*d.DealId] = d
			}
			if d.DealName != nil {
				out[*d.DealName] = d
			}
		}
	}
	return out, nil
}

// dealMessage says how a deal ended the order without the change.
func dealMessage(instance, deal string, d *tcredis.TradeDealDetail) string {
	status := deref(d.Status)
	name := dealStatusNames[status]
	if desc := deref(d.Description); desc != "" && desc != name {
		name += ": " + desc
	}
	return fmt.Sprintf("%s: deal %s ended with status %d (%s); the instance is running with its old sizes", instance, deal, status, name)
}

// receipt turns UpgradeInstance's answer into a Receipt: the order is the DealId where the
// API still fills it (the executor and DescribeInstanceDealDetail use it), else the
// DealName; OrderName is the DealName.
func receipt(resp *upgradeResponse) provider.Receipt {
	r := provider.Receipt{}
	if resp.Response == nil {
		return r
	}
	r.RequestID = deref(resp.Response.RequestId)
	r.OrderName = deref(resp.Response.DealName)
	r.OrderID = deref(resp.Response.DealId)
	if r.OrderID == "" {
		r.OrderID = r.OrderName
	}
	return r
}
