package sim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

func TestStateFilesAreValidated(t *testing.T) {
	cases := []struct {
		name    string
		state   string
		wantErr string // "" = loads
	}{
		{"the test state loads", testState, ""},
		{"an empty file loads with no accounts", "", ""},
		{"qps and durations load", "qps: {widgets/Upgrade: 3}\ndurations: {widgets: 90s}\n", ""},
		{"an unknown top-level key is refused with its line", "accounts: []\nkafkaa: {}\n", `line 2: unknown key "kafkaa"`},
		{"an account without a secret is refused", "accounts: [{name: a, cloud: alibaba, keyId: k}]", "keyId and secret are required"},
		{"an account of another cloud is refused", "accounts: [{name: a, cloud: aws, keyId: k, secret: s}]", `cloud is "aws"`},
		{"two accounts with one key id are refused", "accounts: [{name: a, cloud: alibaba, keyId: k, secret: s}, {name: b, cloud: alibaba, keyId: k, secret: t}]", `key id "k" is already used`},
		{"a qps key without a product is refused", "qps: {Upgrade: 3}", `qps key "Upgrade"`},
		{"a duration that is not a Go duration is refused", "durations: {widgets: ten minutes}", `duration of "widgets"`},
		{"a product's own load error is reported with its key", "widgets: [not, a, map]", "sim: state: widgets:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sim.NewServer([]byte(tc.state), sim.Options{}, newWidgets(), newGadgets())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestProductsReceiveTheirOwnStateKey(t *testing.T) {
	w, g := newWidgets(), newGadgets()
	if _, err := sim.NewServer([]byte(testState), sim.Options{}, w, g); err != nil {
		t.Fatal(err)
	}
	if len(w.versions) != 2 || w.versions["w-2"] != "1.0" || len(g.versions) != 1 || g.versions["g-1"] != "1.0" {
		t.Errorf("widgets loaded %v, gadgets %v", w.versions, g.versions)
	}
}

func getJSON(t *testing.T, url string, v any) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: HTTP %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
	return string(body)
}

func TestCallLogListsEveryCallWithoutCredentials(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	if _, err := aliCall(t, s, "test-ak", "test-sk", "Describe", map[string]string{"InstanceId": "w-1"}); err != nil {
		t.Fatal(err)
	}
	_, _ = aliCall(t, s, "test-ak", "bad-sk", "Describe", map[string]string{"InstanceId": "w-1"})
	if _, err := tcCall(t, s, "test-id", "test-key", "Describe", map[string]any{"InstanceId": "g-1"}); err != nil {
		t.Fatal(err)
	}
	var calls []map[string]any
	raw := getJSON(t, s.URL+"/_sim/calls", &calls)
	for _, secret := range []string{"test-sk", "test-key", `"Signature"`, `"AccessKeyId"`, `"SignatureNonce"`, `"Timestamp"`, "test-ak"} {
		if strings.Contains(raw, secret) {
			t.Errorf("/_sim/calls contains %q: %s", secret, raw)
		}
	}
	want := []struct{ account, product, action, region, code, instance string }{
		{"ali", "widgets", "Describe", "cn-hangzhou", "", "w-1"},
		{"ali", "widgets", "Describe", "cn-hangzhou", "SignatureDoesNotMatch", "w-1"},
		{"tc", "gadgets", "Describe", "ap-shanghai", "", "g-1"},
	}
	if len(calls) != len(want) {
		t.Fatalf("%d calls logged, want %d: %s", len(calls), len(want), raw)
	}
	for i, w := range want {
		c := calls[i]
		if c["account"] != w.account || c["product"] != w.product || c["action"] != w.action || c["region"] != w.region || c["code"] != w.code || c["instance"] != w.instance {
			t.Errorf("call %d = %v, want %+v", i, c, w)
		}
		if c["requestId"] == "" || c["time"] == nil {
			t.Errorf("call %d lacks request id or time: %v", i, c)
		}
	}
	if calls[0]["status"] != float64(200) || calls[1]["status"] != float64(400) {
		t.Errorf("statuses %v %v, want 200 400", calls[0]["status"], calls[1]["status"])
	}
}

func TestStateEndpointShowsAccountsWithoutSecretsAndEachProduct(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	var st struct {
		Accounts []map[string]any
		Widgets  map[string]string
		Gadgets  map[string]string
	}
	raw := getJSON(t, s.URL+"/_sim/state", &st)
	if strings.Contains(raw, "test-sk") || strings.Contains(raw, "test-key") {
		t.Errorf("state leaks a secret: %s", raw)
	}
	if len(st.Accounts) != 3 || st.Accounts[0]["keyId"] != "test-ak" || st.Widgets["w-1"] != "1.0" || st.Gadgets["g-1"] != "1.0" {
		t.Errorf("state = %s", raw)
	}
}

func TestUpgradesFinishAfterTheirScaledDuration(t *testing.T) {
	cases := []struct {
		name      string
		state     string
		scale     float64
		notYet    time.Duration // real time after which the upgrade is still running
		done      time.Duration // real time after which it is done
		wantFinal string
	}{
		{"the product default of ten minutes at scale 60 takes ten seconds", testState, 60, 9 * time.Second, 10 * time.Second, "2.0"},
		{"a state-file duration of one hour at scale 3600 takes one second", testState + "durations: {widgets: 1h}\n", 3600, 999 * time.Millisecond, time.Second, "2.0"},
		{"an unscaled run takes the full duration", testState + "durations: {widgets: 90s}\n", 0, 89 * time.Second, 90 * time.Second, "2.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			w := newWidgets()
			s, err := sim.NewServer([]byte(tc.state), sim.Options{TimeScale: tc.scale, Now: clock.Now}, w, newGadgets())
			if err != nil {
				t.Fatal(err)
			}
			srv := startServer(t, s)
			if _, err := aliCall(t, srv, "test-ak", "test-sk", "Upgrade", map[string]string{"InstanceId": "w-1"}); err != nil {
				t.Fatal(err)
			}
			version := func() string {
				out, err := aliCall(t, srv, "test-ak", "test-sk", "Describe", map[string]string{"InstanceId": "w-1"})
				if err != nil {
					t.Fatal(err)
				}
				return out["Version"].(string)
			}
			if v := version(); v != "upgrading" {
				t.Fatalf("right after the upgrade: %s", v)
			}
			clock.Advance(tc.notYet)
			if v := version(); v != "upgrading" {
				t.Fatalf("after %s: %s, want still upgrading", tc.notYet, v)
			}
			clock.Advance(tc.done - tc.notYet)
			if v := version(); v != tc.wantFinal {
				t.Fatalf("after %s: %s, want %s", tc.done, v, tc.wantFinal)
			}
		})
	}
}

func TestTransitionsRunBeforeStateReadsInDueOrder(t *testing.T) {
	clock := newFakeClock()
	w := newWidgets()
	s, err := sim.NewServer([]byte(testState+"durations: {widgets: 1m}\n"), sim.Options{Now: clock.Now}, w, newGadgets())
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, s)
	for _, id := range []string{"w-2", "w-1"} {
		if _, err := aliCall(t, srv, "test-ak", "test-sk", "Upgrade", map[string]string{"InstanceId": id}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	var st struct{ Widgets map[string]string }
	getJSON(t, srv.URL+"/_sim/state", &st)
	if st.Widgets["w-1"] != "2.0" || st.Widgets["w-2"] != "2.0" {
		t.Errorf("state after the duration: %v", st.Widgets)
	}
	var seen string
	s.Inspect(func() { seen = w.versions["w-1"] })
	if seen != "2.0" {
		t.Errorf("Inspect saw %s", seen)
	}
}
