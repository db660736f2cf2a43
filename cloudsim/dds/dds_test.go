package dds_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	ddssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/dds"

	"github.com/upgradeplan/upgradeplan/cloudsim/dds"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// These tests use the real dds SDK as the client, so the simulator is held to the wire
// format the SDK reads.

const state = `
accounts:
  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}
durations: {mongodb: 15m}
mongodb:
  - {id: dds-1, region: cn-hangzhou, engineVersion: "4.4", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 3, tags: {env: prod}}
  - {id: dds-2, region: cn-hangzhou, engineVersion: "4.4", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 1}
  - {id: dds-3, region: cn-hangzhou, engineVersion: "4.4", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 3, status: Rebooting}
  - {id: dds-4, region: cn-hangzhou, engineVersion: "5.0", kernelVersion: mongodb_20240605_5.0.26, type: sharding}
`

func setup(t *testing.T, st, faults string) (*simtest.Sim, *ddssdk.Client, *simtest.Clock) {
	t.Helper()
	c := simtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := simtest.Start(t, st, sim.Options{Now: c.Now, Faults: []byte(faults)}, dds.New())
	client, err := ddssdk.NewClientWithAccessKey("cn-hangzhou", "ak-1", "sk-1")
	if err != nil {
		t.Fatal(err)
	}
	client.Domain = s.Addr
	return s, client, c
}

func describe(t *testing.T, c *ddssdk.Client, page, size int, mutate func(*ddssdk.DescribeDBInstancesRequest)) *ddssdk.DescribeDBInstancesResponse {
	t.Helper()
	req := ddssdk.CreateDescribeDBInstancesRequest()
	req.RegionId = "cn-hangzhou"
	req.PageNumber = requests.NewInteger(page)
	req.PageSize = requests.NewInteger(size)
	if mutate != nil {
		mutate(req)
	}
	resp, err := c.DescribeDBInstances(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// The current DescribeDBInstances has no CurrentKernelVersion (the old SDK's shared struct
// does): the list answers none, so a provider must not plan from it.
func TestDescribeDBInstancesDecodesWhatTheProviderReads(t *testing.T) {
	_, c, _ := setup(t, state, "")
	tests := []struct {
		name      string
		typ       string
		want      []string
		wantTotal int
	}{
		{"a call without DBInstanceType lists the replica sets only, the documented default", "", []string{
			`dds-1 replicate Running 4.4  rf="3" [env=prod]`,
			`dds-2 replicate Running 4.4  rf="1" []`,
			`dds-3 replicate Rebooting 4.4  rf="3" []`,
		}, 3},
		{"DBInstanceType replicate lists the same replica sets", "replicate", []string{
			`dds-1 replicate Running 4.4  rf="3" [env=prod]`,
			`dds-2 replicate Running 4.4  rf="1" []`,
			`dds-3 replicate Rebooting 4.4  rf="3" []`,
		}, 3},
		{"DBInstanceType sharding lists the sharded clusters", "sharding", []string{
			`dds-4 sharding Running 5.0  rf="" []`,
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := describe(t, c, 1, 30, func(r *ddssdk.DescribeDBInstancesRequest) { r.DBInstanceType = tc.typ })
			var lines []string
			for _, d := range resp.DBInstances.DBInstance {
				var tags []string
				for _, tg := range d.Tags.Tag {
					tags = append(tags, tg.Key+"="+tg.Value)
				}
				lines = append(lines, fmt.Sprintf("%s %s %s %s %s rf=%q %v", d.DBInstanceId, d.DBInstanceType, d.DBInstanceStatus, d.EngineVersion, d.CurrentKernelVersion, d.ReplicationFactor, tags))
			}
			got, want := strings.Join(lines, "\n"), strings.Join(tc.want, "\n")
			if got != want || resp.TotalCount != tc.wantTotal || resp.RequestId == "" {
				t.Errorf("got (total %d)\n%s\nwant (total %d)\n%s", resp.TotalCount, got, tc.wantTotal, want)
			}
		})
	}
}

func TestDescribeDBInstancesPagesReturnEveryInstanceOnce(t *testing.T) {
	var b strings.Builder
	b.WriteString("accounts:\n  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}\nmongodb:\n")
	for i := range 230 {
		fmt.Fprintf(&b, "  - {id: dds-%03d, region: cn-hangzhou, engineVersion: \"4.4\", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 3}\n", i)
	}
	_, c, _ := setup(t, b.String(), "")
	seen := map[string]int{}
	pages := 0
	for page := 1; ; page++ {
		resp := describe(t, c, page, 100, nil)
		pages++
		for _, d := range resp.DBInstances.DBInstance {
			seen[d.DBInstanceId]++
		}
		if resp.TotalCount != 230 || resp.PageNumber != page || resp.PageSize != 100 {
			t.Fatalf("page %d: total %d number %d size %d", page, resp.TotalCount, resp.PageNumber, resp.PageSize)
		}
		if page*100 >= resp.TotalCount {
			break
		}
	}
	if len(seen) != 230 || pages != 3 {
		t.Fatalf("%d instances over %d pages, want 230 over 3", len(seen), pages)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
}

func TestDescribeDBInstancesFiltersAndPageSizes(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		mutate   func(*ddssdk.DescribeDBInstancesRequest)
		want     string
		wantCode string
	}{
		{"a tag narrows the list", 30, func(r *ddssdk.DescribeDBInstancesRequest) {
			r.Tag = &[]ddssdk.DescribeDBInstancesTag{{Key: "env", Value: "prod"}}
		}, "dds-1", ""},
		{"an instance type narrows the list", 50, func(r *ddssdk.DescribeDBInstancesRequest) { r.DBInstanceType = "sharding" }, "dds-4", ""},
		{"an id narrows the list", 100, func(r *ddssdk.DescribeDBInstancesRequest) { r.DBInstanceId = "dds-3" }, "dds-3", ""},
		{"DBInstanceId takes one id: a list of ids matches nothing", 100, func(r *ddssdk.DescribeDBInstancesRequest) { r.DBInstanceId = "dds-1,dds-3" }, "", ""},
		{"the id of a sharded cluster without DBInstanceType lists nothing", 30, func(r *ddssdk.DescribeDBInstancesRequest) { r.DBInstanceId = "dds-4" }, "", ""},
		{"the id of a sharded cluster with DBInstanceType sharding lists it", 30, func(r *ddssdk.DescribeDBInstancesRequest) {
			r.DBInstanceId, r.DBInstanceType = "dds-4", "sharding"
		}, "dds-4", ""},
		{"an instance type other than replicate or sharding is refused", 30, func(r *ddssdk.DescribeDBInstancesRequest) { r.DBInstanceType = "serverless" }, "", dds.CodeInvalidParam},
		{"a page size other than 30, 50 or 100 is refused", 1000, nil, "", "InvalidParameter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, c, _ := setup(t, state, "")
			req := ddssdk.CreateDescribeDBInstancesRequest()
			req.RegionId = "cn-hangzhou"
			req.PageSize = requests.NewInteger(tc.size)
			if tc.mutate != nil {
				tc.mutate(req)
			}
			resp, err := c.DescribeDBInstances(req)
			if tc.wantCode != "" {
				se, ok := err.(*errors.ServerError)
				if !ok || se.ErrorCode() != tc.wantCode || se.HttpStatus() != 400 || se.RequestId() == "" {
					t.Fatalf("got %v, want %s (HTTP 400) with a request id", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range resp.DBInstances.DBInstance {
				ids = append(ids, d.DBInstanceId)
			}
			if strings.Join(ids, ",") != tc.want {
				t.Errorf("got %v, want %s", ids, tc.want)
			}
		})
	}
}

func TestAttributeAndReleaseNotesDecode(t *testing.T) {
	_, c, _ := setup(t, state, "")
	areq := ddssdk.CreateDescribeDBInstanceAttributeRequest()
	areq.RegionId = "cn-hangzhou"
	areq.DBInstanceId = "dds-1"
	aresp, err := c.DescribeDBInstanceAttribute(areq)
	if err != nil {
		t.Fatal(err)
	}
	if len(aresp.DBInstances.DBInstance) != 1 || aresp.DBInstances.DBInstance[0].CurrentKernelVersion != "4.4.25-20231123000000_0" {
		t.Errorf("attribute %+v", aresp.DBInstances)
	}
	nreq := ddssdk.CreateDescribeKernelReleaseNotesRequest()
	nresp, err := c.DescribeKernelReleaseNotes(nreq)
	if err != nil {
		t.Fatal(err)
	}
	var v44 []string
	for _, n := range nresp.ReleaseNotes.ReleaseNote {
		if strings.Contains(n.KernelVersion, "_4.4.") && n.ReleaseNote != "" {
			v44 = append(v44, n.KernelVersion)
		}
	}
	if len(v44) != 3 || v44[2] != dds.NewestKernel("4.4") {
		t.Errorf("4.4 kernels %v, newest %s", v44, dds.NewestKernel("4.4"))
	}
}

func upgrade(c *ddssdk.Client, id string) error {
	req := ddssdk.CreateUpgradeDBInstanceKernelVersionRequest()
	req.RegionId = "cn-hangzhou"
	req.DBInstanceId = id
	_, err := c.UpgradeDBInstanceKernelVersion(req)
	return err
}

func TestUpgradeRulesAnswerTheirCodes(t *testing.T) {
	tests := []struct {
		name, id, code string
		status         int
	}{
		{"a standalone instance is refused", "dds-2", dds.CodeInstanceType, 403},
		{"an instance that is not Running is refused", "dds-3", dds.CodeInstanceStatus, 403},
		{"an instance on the newest kernel is refused", "dds-4", dds.CodeKernelLatest, 403},
		{"an unknown instance is not found", "dds-9", dds.CodeNotFound, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c, _ := setup(t, state, "")
			err := upgrade(c, tc.id)
			se, ok := err.(*errors.ServerError)
			if !ok || se.ErrorCode() != tc.code || se.HttpStatus() != tc.status || se.RequestId() == "" {
				t.Fatalf("got %v, want %s (HTTP %d)", err, tc.code, tc.status)
			}
			if s.CountCode("UpgradeDBInstanceKernelVersion", tc.code) != 1 {
				t.Errorf("the call log lacks %s", tc.code)
			}
		})
	}
}

func TestUpgradeLifecycle(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("failing=%v", fail), func(t *testing.T) {
			faults := ""
			if fail {
				faults = "failUpgrades: [dds-1]\n"
			}
			_, c, clk := setup(t, state, faults)
			if err := upgrade(c, "dds-1"); err != nil {
				t.Fatal(err)
			}
			one := func() ddssdk.DBInstance { return attribute(t, c, "cn-hangzhou", "dds-1") }
			if d := one(); d.DBInstanceStatus != dds.StatusUpgrading {
				t.Errorf("during: %s", d.DBInstanceStatus)
			}
			clk.Advance(15 * time.Minute)
			d := one()
			want := "4.4.29-20240611000000_0"
			if fail {
				want = "4.4.25-20231123000000_0"
			}
			if d.DBInstanceStatus != dds.StatusRunning || d.CurrentKernelVersion != want {
				t.Errorf("after: %s %s, want Running %s", d.DBInstanceStatus, d.CurrentKernelVersion, want)
			}
		})
	}
}

func attribute(t *testing.T, c *ddssdk.Client, region, id string) ddssdk.DBInstance {
	t.Helper()
	req := ddssdk.CreateDescribeDBInstanceAttributeRequest()
	req.RegionId = region
	req.DBInstanceId = id
	resp, err := c.DescribeDBInstanceAttribute(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.DBInstances.DBInstance) != 1 {
		t.Fatalf("attribute of %s: %+v", id, resp.DBInstances)
	}
	return resp.DBInstances.DBInstance[0]
}

// DescribeKernelReleaseNotes with a KernelVersion lists the versions later than it, as the
// current model documents, in either spelling of the kernel; not an exact match.
func TestReleaseNotesListTheVersionsLaterThanTheOneGiven(t *testing.T) {
	s, c, _ := setup(t, state, "")
	for _, given := range []string{"mongodb_20230215_4.4.18", "4.4.18-20230215000000_0"} {
		req := ddssdk.CreateDescribeKernelReleaseNotesRequest()
		req.KernelVersion = given
		resp, err := c.DescribeKernelReleaseNotes(req)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range resp.ReleaseNotes.ReleaseNote {
			got = append(got, n.KernelVersion)
		}
		if want := "mongodb_20231123_4.4.25 mongodb_20240611_4.4.29"; strings.Join(got, " ") != want {
			t.Errorf("release notes after %s: %v, want %s", given, got, want)
		}
	}
	req := ddssdk.CreateDescribeKernelReleaseNotesRequest()
	req.KernelVersion = "4.4"
	if _, err := c.DescribeKernelReleaseNotes(req); err == nil || s.CountCode("DescribeKernelReleaseNotes", dds.CodeInvalidParam) != 1 {
		t.Errorf("an unreadable KernelVersion: %v, want InvalidParameter", err)
	}
}

// The current models of DescribeDBInstanceAttribute, DescribeKernelReleaseNotes and
// UpgradeDBInstanceKernelVersion have no RegionId: a request without one is served; one
// naming another region does not find the instance.
func TestActionsWithoutRegionIdInTheirModelTakeRequestsWithoutOne(t *testing.T) {
	s, c, _ := setup(t, state, "")
	regionless, err := ddssdk.NewClientWithAccessKey("", "ak-1", "sk-1") // the old SDK sends its client's region otherwise
	if err != nil {
		t.Fatal(err)
	}
	regionless.Domain = s.Addr
	c = regionless
	if d := attribute(t, c, "", "dds-1"); d.DBInstanceId != "dds-1" {
		t.Errorf("attribute without RegionId: %+v", d)
	}
	if r := s.CallsTo("DescribeDBInstanceAttribute")[0].Region; r != "" {
		t.Fatalf("the request carried RegionId %q; the test needs one without", r)
	}
	req := ddssdk.CreateDescribeDBInstanceAttributeRequest()
	req.RegionId = "cn-beijing"
	req.DBInstanceId = "dds-1"
	if _, err := c.DescribeDBInstanceAttribute(req); err == nil || !strings.Contains(err.Error(), dds.CodeNotFound) {
		t.Errorf("attribute in another region: %v, want %s", err, dds.CodeNotFound)
	}
	notes := ddssdk.CreateDescribeKernelReleaseNotesRequest()
	notes.RegionId = ""
	if _, err := c.DescribeKernelReleaseNotes(notes); err != nil {
		t.Errorf("release notes without RegionId: %v", err)
	}
	up := ddssdk.CreateUpgradeDBInstanceKernelVersionRequest()
	up.DBInstanceId = "dds-1"
	if _, err := c.UpgradeDBInstanceKernelVersion(up); err != nil || s.CallsTo("UpgradeDBInstanceKernelVersion")[0].Region != "" {
		t.Errorf("upgrade without RegionId: %v", err)
	}
}

// SwitchMode 1 waits for the instance's maintenance window (default 02:00Z-06:00Z); 0
// starts at once; anything else is refused.
func TestSwitchModeOneStartsInTheMaintenanceWindow(t *testing.T) {
	st := state + "  - {id: dds-5, region: cn-hangzhou, engineVersion: \"4.4\", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: 3, maintenanceWindow: 03:00Z-04:00Z}\n"
	s, c, clk := setup(t, st, "") // the clock starts at 00:00Z
	req := ddssdk.CreateUpgradeDBInstanceKernelVersionRequest()
	req.RegionId = "cn-hangzhou"
	req.DBInstanceId = "dds-5"
	req.SwitchMode = "1"
	if _, err := c.UpgradeDBInstanceKernelVersion(req); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2*time.Hour + 59*time.Minute)
	if d := attribute(t, c, "cn-hangzhou", "dds-5"); d.DBInstanceStatus != dds.StatusRunning || d.CurrentKernelVersion != "4.4.25-20231123000000_0" {
		t.Errorf("before the window: %s %s, want Running on the old kernel", d.DBInstanceStatus, d.CurrentKernelVersion)
	}
	clk.Advance(2 * time.Minute)
	if d := attribute(t, c, "cn-hangzhou", "dds-5"); d.DBInstanceStatus != dds.StatusUpgrading {
		t.Errorf("in the window: %s, want %s", d.DBInstanceStatus, dds.StatusUpgrading)
	}
	clk.Advance(15 * time.Minute)
	if d := attribute(t, c, "cn-hangzhou", "dds-5"); d.DBInstanceStatus != dds.StatusRunning || d.CurrentKernelVersion != "4.4.29-20240611000000_0" {
		t.Errorf("after: %s %s, want Running on the newest kernel", d.DBInstanceStatus, d.CurrentKernelVersion)
	}
	req = ddssdk.CreateUpgradeDBInstanceKernelVersionRequest()
	req.DBInstanceId = "dds-1"
	req.SwitchMode = "2"
	if _, err := c.UpgradeDBInstanceKernelVersion(req); err == nil || s.CountCode("UpgradeDBInstanceKernelVersion", dds.CodeInvalidParam) != 1 {
		t.Errorf("SwitchMode 2: %v, want InvalidParameter", err)
	}
}

func TestAnAcceptedKernelUpgradeDescribesAsBeforeUntilTheVisibilityLagPasses(t *testing.T) {
	_, c, clk := setup(t, state+"visibilityLag: {mongodb: 30s}\n", "")
	if err := upgrade(c, "dds-1"); err != nil {
		t.Fatal(err)
	}
	one := func() string { // the list's status, the attribute's kernel (the list has none)
		d := describe(t, c, 1, 30, func(r *ddssdk.DescribeDBInstancesRequest) { r.DBInstanceId = "dds-1" }).DBInstances.DBInstance[0]
		return d.DBInstanceStatus + " " + attribute(t, c, "cn-hangzhou", "dds-1").CurrentKernelVersion
	}
	if got := one(); got != "Running 4.4.25-20231123000000_0" {
		t.Errorf("right after the accepted call: %s, want the old state", got)
	}
	clk.Advance(30 * time.Second)
	if got := one(); got != dds.StatusUpgrading+" 4.4.25-20231123000000_0" {
		t.Errorf("after the lag: %s, want upgrading", got)
	}
	clk.Advance(15 * time.Minute)
	if got := one(); got != "Running 4.4.29-20240611000000_0" {
		t.Errorf("after the lag and the upgrade: %s", got)
	}
}
