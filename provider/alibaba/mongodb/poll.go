package mongodb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/dds"
	"golang.org/x/sync/errgroup"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
)

// codeNotFound is dds's answer to an id it does not know (DescribeDBInstanceAttribute).
const codeNotFound = "InvalidDBInstanceId.NotFound"

// observeRead reads the watched instances (see Observe). A watch not yet started needs its
// instance's kernel for its verdict, and DescribeDBInstanceAttribute answers one id with
// status and kernel: one read each. A started watch needs the kernel only once its
// instance is Running again: while it is MinorVersionUpgrading its status says enough.
// DescribeDBInstances filters by DBInstanceStatus, so a poll lists only the instances
// MinorVersionUpgrading (of the types its steps are): those steps are in progress, and each
// followed step not among them gets DescribeDBInstanceAttribute, which shows it done (the
// confirmation every step needs anyway), still busy in another status, or not started yet.
// The list costs the pages of the upgrades under way (one page per type in the benches,
// where a whole type's listing took 25 pages per poll at 100,000 instances), so it is
// taken unless the watched steps are fewer than its pages (provider.RegionSize.ByID, from
// the count the last such list found); a step followed through many checks then costs one
// kernel read, at its confirmation, instead of one per check. Why not the attribute read
// alone, timed by the duration estimate: every check that finds the upgrade still running
// would be a read of the bucket that bounds MongoDB (two forced reads per step at its
// cap), while a list page is a call of another bucket.
func (p *Provider) observeRead(ctx context.Context, watches []provider.Watch) ([]observed, error) {
	ids := provider.WatchedInstances(watches)
	notStarted := map[string]bool{}
	for _, w := range watches {
		if !w.Started {
			notStarted[w.Instance] = true
		}
	}
	// A chained step's watch rides in its predecessor's check: one read serves both.
	var judge, follow []string
	for _, id := range ids {
		if notStarted[id] {
			judge = append(judge, id)
		} else {
			follow = append(follow, id)
		}
	}
	types := p.typesOf(follow)
	if len(follow) == 0 || p.upgrading.ByID(len(follow)+1, 0, PageSize, len(types)) {
		return p.attributes(ctx, ids)
	}
	// The judgements go out beside the list, so a poll with riders takes one round trip
	// more than the list alone only where a followed instance is no longer upgrading.
	var obs, judged []observed
	followed := func(ctx context.Context) (err error) {
		if obs, err = p.listTypes(ctx, follow, nil, types, StatusUpgrading); err != nil {
			return err
		}
		// Only an instance the list shows MinorVersionUpgrading is taken from it: the list
		// has no kernel, so one it shows in another status (a filter the API did not apply)
		// would be judged Running on no kernel, a failure, instead of from its own read.
		busy := make(map[string]bool, len(obs))
		listed := obs[:0]
		for _, o := range obs {
			if o.status == StatusUpgrading {
				busy[o.id] = true
				listed = append(listed, o)
			}
		}
		obs = listed
		var rest []string
		for _, id := range follow {
			if !busy[id] {
				rest = append(rest, id)
			}
		}
		read, err := p.attributes(ctx, rest)
		obs = append(obs, read...)
		return err
	}
	if len(judge) == 0 {
		if err := followed(ctx); err != nil {
			return nil, err
		}
		return obs, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		judged, err = p.attributes(gctx, judge)
		return err
	})
	g.Go(func() error { return followed(gctx) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return append(obs, judged...), nil
}

// typesOf returns the DBInstanceType listings that hold ids, as earlier reads showed them:
// both (replicate first) unless every id's type is known.
func (p *Provider) typesOf(ids []string) []string {
	p.typesMu.Lock()
	defer p.typesMu.Unlock()
	seen := map[string]bool{}
	for _, id := range ids {
		t := p.types[id]
		if t != TypeReplicate && t != TypeSharding {
			return []string{TypeReplicate, TypeSharding}
		}
		seen[t] = true
	}
	var out []string
	for _, t := range [...]string{TypeReplicate, TypeSharding} {
		if seen[t] {
			out = append(out, t)
		}
	}
	return out
}

// noteType remembers an instance's DBInstanceType (it never changes) for typesOf.
func (p *Provider) noteType(id, typ string) {
	if typ == "" {
		return
	}
	p.typesMu.Lock()
	defer p.typesMu.Unlock()
	if p.types == nil {
		p.types = map[string]string{}
	}
	p.types[id] = typ
}

// attributes reads each id with DescribeDBInstanceAttribute, which carries the status and
// the kernel; an id dds does not know (InvalidDBInstanceId.NotFound) is left out. The reads
// go out side by side, as many as the pool has clients (the executor's limiter keeps them
// under the action's rate cap): one after another, 5,000 ids at a 150 ms round trip took
// 12.5 minutes of an apply's refresh.
func (p *Provider) attributes(ctx context.Context, ids []string) ([]observed, error) {
	got := make([]*observed, len(ids))
	err := p.eachID(ctx, len(ids), func(ctx context.Context, i int) error {
		d, ok, err := p.attribute(ctx, ids[i])
		if err == nil && ok {
			o := fromSDK(d)
			got[i] = &o
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]observed, 0, len(ids))
	for _, o := range got {
		if o != nil {
			out = append(out, *o)
		}
	}
	return out, nil
}

// eachID runs read for 0..n-1, at most readersAtOnce at a time (one read in the caller's
// goroutine); the first error cancels the rest and is returned.
func (p *Provider) eachID(ctx context.Context, n int, read func(context.Context, int) error) error {
	if n == 1 {
		return read(ctx, 0) // a step's judgement or confirmation: no goroutine to hand it to
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(readersAtOnce)
	for i := range n {
		g.Go(func() error { return read(ctx, i) })
	}
	return g.Wait()
}

// readersAtOnce is how many per-instance reads one Observe or plan has in flight: the
// pool's default client count, so no read waits for a client while another holds one idle.
const readersAtOnce = alisdk.DefaultClients

// attribute reads one instance with DescribeDBInstanceAttribute; ok is false when dds
// answers that the instance does not exist.
func (p *Provider) attribute(ctx context.Context, id string) (d dds.DBInstance, ok bool, err error) {
	var resp *attributeAnswer
	err = p.pool.Invoke(ctx, alisdk.Call{Action: ActionAttribute}, func() (requests.AcsRequest, responses.AcsResponse) {
		req := dds.CreateDescribeDBInstanceAttributeRequest()
		req.RegionId = p.region
		req.DBInstanceId = id
		resp = &attributeAnswer{BaseResponse: &responses.BaseResponse{}}
		return req, resp
	})
	if pe := (*provider.Error)(nil); errors.As(err, &pe) && pe.Code == codeNotFound {
		return dds.DBInstance{}, false, nil
	}
	if err != nil {
		return dds.DBInstance{}, false, fmt.Errorf("mongodb: describe instance %s: %w", id, err)
	}
	for _, d := range resp.DBInstances.DBInstance {
		if d.DBInstanceId == id {
			p.noteType(id, d.DBInstanceType)
			return d.sdk(), true, nil
		}
	}
	return dds.DBInstance{}, false, fmt.Errorf("mongodb: DescribeDBInstanceAttribute did not return %s (request id %s)", id, resp.RequestId)
}
