package mongodb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/mongodb"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

// startUpgrade sends id's kernel upgrade (SwitchMode 0: at once) and returns the watch of
// its started step, from → to.
func startUpgrade(t *testing.T, ctx context.Context, p *mongodb.Provider, id string, from, to provider.Values) provider.Watch {
	t.Helper()
	if _, err := p.Apply(ctx, provider.Call{Instance: id, Action: mongodb.ActionUpgrade,
		Params: map[string]any{"DBInstanceId": id, "RegionId": "cn-hangzhou", "SwitchMode": "0"}}); err != nil {
		t.Fatal(err)
	}
	return provider.Watch{Instance: id, Action: mongodb.ActionUpgrade, From: from, To: to, Started: true, Since: time.Now()}
}

// upgradingRegion is a cn-hangzhou region of 400 replica sets (dds-NNNN) and 100 sharded
// clusters (dds-s-NNNN), every one MinorVersionUpgrading except the ones running lists.
func upgradingRegion(running map[string]string) string {
	var b strings.Builder
	b.WriteString("accounts:\n  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}\nmongodb:\n")
	row := func(id, typ string) {
		status, kernel := "MinorVersionUpgrading", oldKernel
		if k, ok := running[id]; ok {
			status, kernel = "Running", k
		}
		fmt.Fprintf(&b, "  - {id: %s, region: cn-hangzhou, account: ali, engineVersion: \"4.4\", kernelVersion: %s, replicationFactor: 3, type: %s, status: %s}\n", id, kernel, typ, status)
	}
	for i := range 400 {
		row(fmt.Sprintf("dds-%04d", i), "replicate")
	}
	for i := range 100 {
		row(fmt.Sprintf("dds-s-%04d", i), "sharding")
	}
	return b.String()
}

// Watching 3 of 500 instances costs 3 DescribeDBInstanceAttribute calls (DescribeDBInstances
// filters by one id, the attribute answers one id with status and kernel), not the
// region's 5 pages plus a kernel read per Running instance; and it judges the 3 exactly as
// the region read does.
func TestObservingThreeOfFiveHundredReadsThreeInstances(t *testing.T) {
	running := map[string]string{"dds-0007": oldKernel, "dds-0123": newestKernel, "dds-s-0042": oldKernel}
	f := start(t, upgradingRegion(running), "")
	p := f.open(t)
	ctx := context.Background()
	from, to := provider.Values{"kernelVersion": oldKernel}, provider.Values{"kernelVersion": newestKernel}
	now := time.Now()
	var all []provider.Watch
	for i := range 400 {
		all = append(all, provider.Watch{Instance: fmt.Sprintf("dds-%04d", i), From: from, To: to, Started: true, Since: now})
	}
	for i := range 100 {
		all = append(all, provider.Watch{Instance: fmt.Sprintf("dds-s-%04d", i), From: from, To: to, Started: true, Since: now})
	}
	// dds-s-0042's call was accepted long ago: Running on the old kernel is a failure.
	all[400+42].Since = now.Add(-time.Hour)
	calls := func() (list, attr int) {
		return f.sim.Count("DescribeDBInstances"), f.sim.Count("DescribeDBInstanceAttribute")
	}

	region, err := p.Observe(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	list, attr := calls()
	if list != 5 || attr != 3 {
		t.Errorf("watching all 500: %d list pages and %d kernel reads, want 4+1 pages and 3 (the Running ones)", list, attr)
	}

	three := []provider.Watch{all[123], all[7], all[400+42]}
	got, err := p.Observe(ctx, three)
	if err != nil {
		t.Fatal(err)
	}
	list2, attr2 := calls()
	if list2-list != 0 || attr2-attr != 3 {
		t.Errorf("watching 3 of 500: %d list pages and %d DescribeDBInstanceAttribute, want 0 and 3", list2-list, attr2-attr)
	}
	providertest.SameAsRegionRead(t, got, region, []provider.State{provider.StateDone, provider.StateInProgress, provider.StateFailed})
}

// A fresh provider (no region size known yet) watching 3 instances not yet called reads
// them by id: the region read would need their 3 kernels on top of at least 2 pages.
func TestObservingNotStartedWatchesOfAnUnknownRegionReadsByID(t *testing.T) {
	f := start(t, upgradingRegion(map[string]string{"dds-0001": oldKernel, "dds-0002": oldKernel, "dds-s-0003": oldKernel}), "")
	p := f.open(t)
	from, to := provider.Values{"kernelVersion": oldKernel}, provider.Values{"kernelVersion": newestKernel}
	var ws []provider.Watch
	for _, id := range []string{"dds-0001", "dds-0002", "dds-s-0003", "dds-gone"} {
		ws = append(ws, provider.Watch{Instance: id, From: from, To: to})
	}
	got, err := p.Observe(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.State{provider.StatePending, provider.StatePending, provider.StatePending, provider.StateMissing}
	for i := range want {
		if got[i].State != want[i] {
			t.Errorf("%s: %s (%s), want %s", ws[i].Instance, got[i].State, got[i].Message, want[i])
		}
	}
	if l, a := f.sim.Count("DescribeDBInstances"), f.sim.Count("DescribeDBInstanceAttribute"); l != 0 || a != 4 {
		t.Errorf("%d list pages and %d DescribeDBInstanceAttribute, want 0 and 4", l, a)
	}
}

// rendezvous is a Doer that holds each DescribeDBInstanceAttribute until another is in
// flight with it (or 10 s pass, which fails the test): reads made one after another never
// meet.
type rendezvous struct {
	mu     sync.Mutex
	n      int
	met    chan struct{}
	missed atomic.Bool
}

func (r *rendezvous) Do(ctx context.Context, req provider.Request, send func(context.Context) error) error {
	if req.Action == mongodb.ActionAttribute {
		r.mu.Lock()
		if r.n++; r.n == 2 {
			close(r.met)
		}
		r.mu.Unlock()
		select {
		case <-r.met:
		case <-time.After(10 * time.Second):
			r.missed.Store(true)
		}
	}
	return send(ctx)
}

// Observing by id sends the per-instance reads side by side: one after another, an apply's
// refresh of 5,000 MongoDB steps spent minutes of its window on round trips before its
// first upgrade. The rate cap is the executor's Doer's to keep, not the provider's.
func TestObservingByIDReadsTheInstancesSideBySide(t *testing.T) {
	f := start(t, upgradingRegion(map[string]string{"dds-0001": oldKernel, "dds-0002": oldKernel, "dds-0003": oldKernel}), "")
	r := &rendezvous{met: make(chan struct{})}
	p := f.open(t, func(c *provider.Config) { c.Doer = r })
	from, to := provider.Values{"kernelVersion": oldKernel}, provider.Values{"kernelVersion": newestKernel}
	var ws []provider.Watch
	for _, id := range []string{"dds-0001", "dds-0002", "dds-0003"} {
		ws = append(ws, provider.Watch{Instance: id, From: from, To: to})
	}
	ps, err := p.Observe(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	if r.missed.Load() {
		t.Fatal("no two DescribeDBInstanceAttribute reads were in flight at once")
	}
	for i, pr := range ps {
		if pr.State != provider.StatePending {
			t.Errorf("%s: %s, want pending (Running on the old kernel)", ws[i].Instance, pr.State)
		}
	}
}

// Following ten upgrades through their busy spell reads each kernel once, when its
// instance is Running again: the polls during the upgrade read the status from the list
// (one page of the one type they are, once a read showed it), not one
// DescribeDBInstanceAttribute per instance per poll.
func TestFollowingUpgradesReadsEachKernelOnceAtTheEnd(t *testing.T) {
	var b strings.Builder
	b.WriteString("accounts:\n  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}\ndurations: {mongodb: 15m}\nmongodb:\n")
	for i := range 10 {
		fmt.Fprintf(&b, "  - {id: dds-%02d, region: cn-hangzhou, engineVersion: \"4.4\", kernelVersion: %s, replicationFactor: 3}\n", i, oldKernel)
	}
	f := start(t, b.String(), "")
	p := f.open(t)
	ctx := context.Background()
	from, to := provider.Values{"kernelVersion": oldKernel}, provider.Values{"kernelVersion": newestKernel}
	var ws []provider.Watch
	for i := range 10 {
		w := provider.Watch{Instance: fmt.Sprintf("dds-%02d", i), Action: mongodb.ActionUpgrade, From: from, To: to}
		ws = append(ws, w)
	}
	judged, err := p.Observe(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		if judged[i].State != provider.StatePending {
			t.Fatalf("%s before the call: %s (%s)", w.Instance, judged[i].State, judged[i].Message)
		}
		if _, err := p.Apply(ctx, provider.Call{Instance: w.Instance, Action: mongodb.ActionUpgrade,
			Params: map[string]any{"DBInstanceId": w.Instance, "RegionId": "cn-hangzhou", "SwitchMode": "0"}}); err != nil {
			t.Fatal(err)
		}
		ws[i].Started, ws[i].Since = true, time.Now()
	}
	attrBefore, listBefore := f.sim.Count("DescribeDBInstanceAttribute"), f.sim.Count("DescribeDBInstances")
	for range 5 { // checks during the upgrade
		got, err := p.Observe(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i].State != provider.StateInProgress {
				t.Fatalf("%s during the upgrade: %s (%s)", ws[i].Instance, got[i].State, got[i].Message)
			}
		}
		f.clock.Advance(time.Minute)
	}
	if n := f.sim.Count("DescribeDBInstanceAttribute") - attrBefore; n != 0 {
		t.Errorf("five checks during the upgrades read %d kernels, want 0 (the list shows them MinorVersionUpgrading)", n)
	}
	if n := f.sim.Count("DescribeDBInstances") - listBefore; n != 5 {
		t.Errorf("five checks during the upgrades sent %d list pages, want 5 (one page of replica sets each)", n)
	}
	f.clock.Advance(15 * time.Minute)
	got, err := p.Observe(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].State != provider.StateDone {
			t.Errorf("%s after the upgrade: %s (%s)", ws[i].Instance, got[i].State, got[i].Message)
		}
	}
	if n := f.sim.Count("DescribeDBInstanceAttribute") - attrBefore; n != 10 {
		t.Errorf("following ten upgrades to the end read %d kernels, want 10 (one confirmation each)", n)
	}
}

// Following ten upgrades in a region of 2,500 replica sets costs one DescribeDBInstances
// page per check, the upgrades under way (narrowed by DBInstanceStatus), not the 25 pages
// of the whole listing it took before (5,155 list calls for 10,000 steps in the large
// bench); an instance the list no longer shows upgrading is read by id: done, busy in
// another status, or gone.
func TestFollowingUpgradesInALargeRegionListsOnlyTheUpgrades(t *testing.T) {
	var b strings.Builder
	b.WriteString("accounts:\n  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}\ndurations: {mongodb: 15m}\nmongodb:\n")
	for i := range 2500 {
		status := "Running"
		if i == 3 {
			status = "Rebooting" // another actor's restart: not upgrading, not done
		}
		fmt.Fprintf(&b, "  - {id: dds-%04d, region: cn-hangzhou, account: ali, engineVersion: \"4.4\", kernelVersion: %s, replicationFactor: 3, status: %s}\n", i, oldKernel, status)
	}
	f := start(t, b.String(), "")
	p := f.open(t)
	ctx := context.Background()
	// A plan's read records the region, 25 pages: the checks' choice goes by the upgrades
	// under way, not by that.
	if _, err := p.List(ctx, provider.Selection{}); err != nil {
		t.Fatal(err)
	}
	from, to := provider.Values{"kernelVersion": oldKernel}, provider.Values{"kernelVersion": newestKernel}
	var ws []provider.Watch
	for i := range 10 {
		id := fmt.Sprintf("dds-%04d", 1000+i)
		ws = append(ws, startUpgrade(t, ctx, p, id, from, to))
	}
	ws = append(ws,
		provider.Watch{Instance: "dds-0003", Action: mongodb.ActionUpgrade, From: from, To: to, Started: true, Since: time.Now()},
		provider.Watch{Instance: "dds-gone", Action: mongodb.ActionUpgrade, From: from, To: to, Started: true, Since: time.Now()})
	want := func(last provider.State) []provider.State {
		var s []provider.State
		for range 10 {
			s = append(s, last)
		}
		return append(s, provider.StateInProgress, provider.StateMissing)
	}
	check := func(when string, states []provider.State) {
		t.Helper()
		list, attr := f.sim.Count("DescribeDBInstances"), f.sim.Count("DescribeDBInstanceAttribute")
		got, err := p.Observe(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i].State != states[i] {
				t.Errorf("%s: %s is %s (%s), want %s", when, ws[i].Instance, got[i].State, got[i].Message, states[i])
			}
		}
		l, a := f.sim.Count("DescribeDBInstances")-list, f.sim.Count("DescribeDBInstanceAttribute")-attr
		// Both listings until a read shows the types: replicate, then sharding (empty).
		if l > 2 {
			t.Errorf("%s: %d DescribeDBInstances pages, want at most 2 (the upgrades under way), not the region's 25", when, l)
		}
		t.Logf("%s: %d list pages, %d attribute reads", when, l, a)
	}
	check("during the upgrades", want(provider.StateInProgress))
	f.clock.Advance(20 * time.Minute)
	check("after the upgrades", want(provider.StateDone))
	if n := f.sim.Count("DescribeDBInstanceAttribute"); n > 10+2*2 {
		t.Errorf("%d DescribeDBInstanceAttribute over two checks, want at most 14: one confirmation per upgrade and the two instances the list cannot show twice", n)
	}
}

// advanceBeforeSecondList is a Doer that moves the simulated clock on before the second
// DescribeDBInstances of each Observe: upgrades ending while a poll pages their listing.
type advanceBeforeSecondList struct {
	clock *simtest.Clock
	by    time.Duration
	lists atomic.Int32
}

func (d *advanceBeforeSecondList) Do(ctx context.Context, req provider.Request, send func(context.Context) error) error {
	if req.Action == mongodb.ActionList && d.lists.Add(1) == 2 {
		d.clock.Advance(d.by)
	}
	return send(ctx)
}

// When upgrades end between a poll's first and second page of the instances upgrading,
// the ones after them move a page forward; the poll reads the first page again instead
// of taking the 50 it would have missed for ended and reading each one's kernel (the bucket
// that bounds MongoDB). The 50 that ended were on the first page a moment earlier: in
// progress, as a poll a moment earlier would have said.
func TestUpgradesEndingWhileAPollPagesAreNotMissed(t *testing.T) {
	var b strings.Builder
	b.WriteString("accounts:\n  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}\ndurations: {mongodb: 15m}\nmongodb:\n")
	for i := range 150 {
		fmt.Fprintf(&b, "  - {id: dds-%03d, region: cn-hangzhou, account: ali, engineVersion: \"4.4\", kernelVersion: %s, replicationFactor: 3}\n", i, oldKernel)
	}
	f := start(t, b.String(), "")
	d := &advanceBeforeSecondList{clock: f.clock, by: 6 * time.Minute}
	p := f.open(t, func(c *provider.Config) { c.Doer = d })
	ctx := context.Background()
	from, to := provider.Values{"kernelVersion": oldKernel}, provider.Values{"kernelVersion": newestKernel}
	var ws []provider.Watch
	for i := range 150 {
		if i == 50 {
			f.clock.Advance(10 * time.Minute) // the first 50 end 5 minutes from now
		}
		id := fmt.Sprintf("dds-%03d", i)
		ws = append(ws, startUpgrade(t, ctx, p, id, from, to))
	}
	got, err := p.Observe(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	for i, pr := range got {
		if pr.State != provider.StateInProgress {
			t.Errorf("%s: %s (%s), want in progress", ws[i].Instance, pr.State, pr.Message)
		}
	}
	if n := f.sim.Count("DescribeDBInstanceAttribute"); n != 0 {
		t.Errorf("%d kernel reads, want 0 (every instance was on a page of the upgrading ones)", n)
	}
}

// unfilteredFront is a front for the simulator whose DescribeDBInstances does not apply
// DBInstanceStatus to the ids in shown: a list narrowed to MinorVersionUpgrading shows them
// too, Running and without a kernel (the current list has none), as an API that ignored
// the filter would. The request goes to the simulator unchanged (it is signed); only the
// answer is added to.
func unfilteredFront(t *testing.T, simURL string, shown ...string) string {
	t.Helper()
	target, err := url.Parse(simURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		q := resp.Request.URL.Query()
		if q.Get("Action") != "DescribeDBInstances" || q.Get("DBInstanceStatus") == "" || q.Get("PageNumber") != "1" {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var page map[string]any
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		dbs := page["DBInstances"].(map[string]any)
		list, _ := dbs["DBInstance"].([]any)
		for _, id := range shown {
			list = append(list, map[string]any{"DBInstanceId": id, "DBInstanceStatus": "Running", "DBInstanceType": q.Get("DBInstanceType"), "EngineVersion": "4.4", "ReplicationFactor": "3"})
		}
		dbs["DBInstance"] = list
		page["TotalCount"] = page["TotalCount"].(float64) + float64(len(shown))
		if body, err = json.Marshal(page); err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	return strings.TrimPrefix(front.URL, "http://")
}

// A followed upgrade is judged from the list of the instances upgrading only where the list
// shows it MinorVersionUpgrading. Were DBInstanceStatus not applied, the list would show a
// finished upgrade Running without its kernel (DescribeDBInstances has none): taken from
// the list, both steps would fail as "Running on kernel  after the upgrade" although both
// upgrades succeeded; read by id, they are done.
func TestAListShowingAFollowedInstanceNotUpgradingIsNotItsVerdict(t *testing.T) {
	f := start(t, state, "")
	ids := []string{"dds-01", "dds-06"}
	addr := unfilteredFront(t, f.sim.URL, ids...)
	p := f.open(t, func(c *provider.Config) {
		c.Getenv = providertest.Getenv(map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": addr, "ALI_AK": "ak-1", "ALI_SK": "sk-1"})
	})
	ctx := context.Background()
	var ws []provider.Watch
	for _, id := range ids {
		ws = append(ws, startUpgrade(t, ctx, p, id, provider.Values{"kernelVersion": oldKernel}, provider.Values{"kernelVersion": newestKernel}))
	}
	f.clock.Advance(20 * time.Minute)
	got, err := p.Observe(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	for i, pr := range got {
		if pr.State != provider.StateDone {
			t.Errorf("%s after its upgrade: %s (%s), want done", ws[i].Instance, pr.State, pr.Message)
		}
	}
	if n := f.sim.Count("DescribeDBInstances"); n == 0 {
		t.Errorf("no DescribeDBInstances: the poll did not take the list of the upgrades")
	}
}
