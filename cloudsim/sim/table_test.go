package sim_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"gopkg.in/yaml.v3"
)

// box is a product's instance as the table tests see it.
type box struct {
	sim.Placement `yaml:",inline"`
	Size          int    `yaml:"size" json:"size"`
	Status        string `yaml:"status,omitempty" json:"status"`
}

func loadBoxes(t *testing.T, src string, check func(*box) error) (*sim.Table[box, *box], error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	var tb sim.Table[box, *box]
	return &tb, tb.Load(doc.Content[0], "boxes", check)
}

const boxes = `
- {id: b-3, region: cn-hangzhou, tags: {env: prod, team: ""}, size: 3}
- {id: b-1, region: cn-hangzhou, account: a, tags: {env: prod}, size: 1}
- {id: b-2, region: cn-beijing, size: 2}
- {id: b-4, region: cn-hangzhou, account: b, size: 4}
- {id: b-5, region: cn-hangzhou, tags: {env: dev}, size: 5}
`

func TestTableLoadRefusesWhatNoProductHas(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"no id", "- {region: r}", "boxes: instance 1: id is required"},
		{"no region", "- {id: b-1}", "boxes: b-1: region is required"},
		{"a duplicate id", "- {id: b-1, region: r}\n- {id: b-1, region: r}", "boxes: duplicate id b-1"},
		{"the product's own rule", "- {id: b-1, region: r, size: -1}", "boxes: b-1: size -1 is negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadBoxes(t, tc.src, func(b *box) error {
				if b.Size < 0 {
					return errors.New("size -1 is negative")
				}
				return nil
			})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTableKeepsInstancesInIDOrderAndSnapshotsCopies(t *testing.T) {
	tb, err := loadBoxes(t, boxes, func(b *box) error {
		if b.Status == "" {
			b.Status = "ready" // a default the check sets is kept
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := tb.IDs(); !slices.Equal(got, []string{"b-1", "b-2", "b-3", "b-4", "b-5"}) {
		t.Errorf("ids %v", got)
	}
	snap := tb.Snapshot()
	if len(snap) != 5 || snap[0].ID != "b-1" || snap[0].Status != "ready" {
		t.Fatalf("snapshot %+v", snap)
	}
	b1, _ := tb.Get("b-1")
	b1.Size = 10
	if snap[0].Size != 1 {
		t.Errorf("the snapshot changed with the instance: %+v", snap[0])
	}
	if again, _ := tb.Get("b-1"); again.Size != 10 {
		t.Errorf("Get returns a copy, not the instance: %+v", again)
	}
}

func TestTableShowsACallerItsAccountsInstancesInTheRegionAsked(t *testing.T) {
	tb, err := loadBoxes(t, boxes, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := request("a", url.Values{}) // account a in cn-hangzhou
	for id, want := range map[string]bool{"b-1": true, "b-2": false, "b-3": true, "b-4": false, "b-9": false} {
		if _, ok := tb.Visible(r, id); ok != want {
			t.Errorf("%s visible to a in cn-hangzhou: %v, want %v", id, ok, want)
		}
	}
	ids := func(list []*box) string {
		var out []string
		for _, b := range list {
			out = append(out, b.ID)
		}
		return strings.Join(out, " ")
	}
	cases := []struct {
		name string
		tags []sim.Tag
		keep func(*box) bool
		want string
	}{
		{"everything visible", nil, nil, "b-1 b-3 b-5"},
		{"a key and a value", []sim.Tag{{Key: "env", Value: "prod"}}, nil, "b-1 b-3"},
		{"a key with any value", []sim.Tag{{Key: "team"}}, nil, "b-3"},
		{"an exact empty value", []sim.Tag{{Key: "team", Exact: true}}, nil, "b-3"},
		{"an exact empty value the instance lacks", []sim.Tag{{Key: "env", Exact: true}}, nil, ""},
		{"every tag must hold", []sim.Tag{{Key: "env", Value: "prod"}, {Key: "team"}}, nil, "b-3"},
		{"the product's own filter", nil, func(b *box) bool { return b.Size > 1 }, "b-3 b-5"},
	}
	for _, tc := range cases {
		if got := ids(tb.List(r, tc.tags, tc.keep)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNextTokenPagesVisitEveryIDOnce(t *testing.T) {
	tb, err := loadBoxes(t, "- {id: i-1, region: cn-hangzhou}\n- {id: i-2, region: cn-hangzhou}\n- {id: i-3, region: cn-hangzhou}\n- {id: i-4, region: cn-hangzhou}\n- {id: i-5, region: cn-hangzhou}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := tb.List(request("a", nil), nil, nil)
	for _, size := range []int{1, 2, 5, 6} {
		var got []string
		params := url.Values{}
		for pages := 0; ; pages++ {
			if pages > len(rows) {
				t.Fatalf("page size %d: the pages never end", size)
			}
			after, err := sim.NextTokenAfter(request("a", params))
			if err != nil {
				t.Fatalf("page size %d: the simulator's own NextToken is refused: %v", size, err)
			}
			page, next := sim.PageAfter(rows, after, size)
			if len(page) > size {
				t.Fatalf("page size %d: a page of %d", size, len(page))
			}
			for _, b := range page {
				got = append(got, b.ID)
			}
			if next == "" {
				break
			}
			params.Set("NextToken", next)
		}
		if want := tb.IDs(); !slices.Equal(got, want) {
			t.Errorf("page size %d: the pages list %v, want %v", size, got, want)
		}
	}
}

func TestWindowClipsToTheItemsThereAre(t *testing.T) {
	items := []int{0, 1, 2, 3, 4}
	cases := []struct {
		offset, limit int
		want          []int
	}{
		{0, 2, []int{0, 1}},
		{3, 30, []int{3, 4}},
		{5, 1, nil},
		{-1, 2, nil},
		{2, 0, nil},
		{1, int(^uint(0) >> 1), []int{1, 2, 3, 4}}, // offset+limit would overflow
	}
	for _, tc := range cases {
		if got := sim.Window(items, tc.offset, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("Window(%d, %d) = %v, want %v", tc.offset, tc.limit, got, tc.want)
		}
	}
}

func TestTableActChangesOnlyAReadyInstance(t *testing.T) {
	tb, err := loadBoxes(t, "- {id: b-1, region: r, size: 1}\n- {id: b-2, region: r, size: 2, status: busy}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	busy := func(b *box) string { return b.Status }
	ch, effect, err := tb.Act("b-1", map[string]any{"size": 7}, busy)
	if err != nil || ch.From["size"] != float64(1) || ch.To["size"] != 7 {
		t.Fatalf("act on b-1: %+v, %v", ch, err)
	}
	if b, _ := tb.Get("b-1"); b.Size != 1 {
		t.Errorf("Act changed b-1 before its effect ran: %d", b.Size)
	}
	effect(time.Time{})
	if b, _ := tb.Get("b-1"); b.Size != 7 {
		t.Errorf("after the effect b-1 has size %d, want 7", b.Size)
	}
	if _, _, err := tb.Act("b-2", map[string]any{"size": 7}, busy); !errors.Is(err, sim.ErrBusy) {
		t.Errorf("act on busy b-2: %v, want ErrBusy", err)
	}
	if _, _, err := tb.Act("b-9", map[string]any{"size": 7}, busy); !errors.Is(err, sim.ErrUnknownInstance) {
		t.Errorf("act on b-9: %v, want ErrUnknownInstance", err)
	}
}

// Under a list lag a list answers from a copy of the instances at most that old, while a
// describe (Visible) shows the instance as it is; once the copy is the lag old, the next
// list takes a fresh one.
func TestAListTrailsTheDescribesByAtMostTheListLag(t *testing.T) {
	tb, err := loadBoxes(t, boxes, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *sim.Request {
		r := request("a", url.Values{})
		r.Now, r.ListLag = t0.Add(d), 30*time.Second
		return r
	}
	size := func(r *sim.Request) int {
		for _, b := range tb.List(r, nil, nil) {
			if b.ID == "b-1" {
				return b.Size
			}
		}
		return -1
	}
	if got := size(at(0)); got != 1 {
		t.Fatalf("first list: b-1 size %d, want 1", got)
	}
	b, _ := tb.Visible(at(time.Second), "b-1")
	b.Size, b.Status = 10, "changing" // a change made visible to describes
	if got, _ := tb.Visible(at(time.Second), "b-1"); got.Size != 10 {
		t.Fatalf("describe after the change: size %d, want 10", got.Size)
	}
	if got := size(at(29 * time.Second)); got != 1 {
		t.Errorf("a list 29s after its index was copied: b-1 size %d, want the old 1", got)
	}
	if got := size(at(30 * time.Second)); got != 10 {
		t.Errorf("a list 30s after its index was copied: b-1 size %d, want the new 10", got)
	}
	r := request("a", url.Values{})
	r.Now = t0.Add(31 * time.Second)
	b.Size = 11
	if got := size(r); got != 11 {
		t.Errorf("without a list lag: b-1 size %d, want what the describe shows, 11", got)
	}
}

// The list index's copies share no map with the instances: a change an action makes in
// place (tags, a product's parameters) trails in the list like every other change.
func TestTheListIndexSharesNoTagsWithTheInstances(t *testing.T) {
	tb, err := loadBoxes(t, boxes, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := request("a", url.Values{})
	r.Now, r.ListLag = time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC), time.Minute
	tb.List(r, nil, nil) // the index is copied now
	b, _ := tb.Visible(r, "b-1")
	b.Tags["env"] = "staging" // changed in place
	for _, got := range tb.List(r, nil, nil) {
		if got.ID == "b-1" && got.Tags["env"] != "prod" {
			t.Errorf("the trailing list shows b-1's tag env=%q at once; want the old prod", got.Tags["env"])
		}
	}
}
