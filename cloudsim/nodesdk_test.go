package cloudsim_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// nodeSDK is the Tencent Node SDK the test installs with npm (pinned, so a run today and
// a run next year send the same requests).
const nodeSDK = "tencentcloud-sdk-nodejs@4.1.313"

// nodeSDKDir returns a directory whose node_modules holds nodeSDK, installing it once
// into the user cache. It skips the test only where node is not installed.
func nodeSDKDir(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("node is not installed (%v): the Tencent Node SDK test needs node and npm", err)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("node is installed but npm is not: %v", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = t.TempDir()
	}
	dir = filepath.Join(cache, "upgradeplan-test", strings.ReplaceAll(nodeSDK, "@", "-"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "tencentcloud-sdk-nodejs", "package.json")); err == nil {
		return node, dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	out, err := exec.Command(npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", tmp, nodeSDK).CombinedOutput()
	if err != nil {
		t.Fatalf("npm install %s: %v\n%s", nodeSDK, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		if _, statErr := os.Stat(dir); statErr != nil { // not another run's install
			t.Fatalf("keep the Node SDK install: %v", err)
		}
	}
	return node, dir
}

const nodeState = `accounts:
  - {name: node-tc, cloud: tencent, keyId: node-id, secret: node-key}
redis:
  - {id: crs-node-1, region: ap-shanghai, account: node-tc, status: 2, tags: {env: node}, memSizeMB: 4096, shards: 1, replicas: 1}
  - {id: crs-node-2, region: ap-shanghai, account: node-tc, status: 2, tags: {env: node}, memSizeMB: 4096, shards: 1, replicas: 1}
  - {id: crs-other, region: ap-shanghai, account: node-tc, status: 2, tags: {env: other}, memSizeMB: 4096, shards: 1, replicas: 1}
`

// Tencent's Node SDK, which nobody here wrote, reads and changes Redis instances on the
// simulator over TC3 POST and GET and signature v1 (HmacSHA256) over GET and POST; a
// wrong key and an unknown parameter get Tencent's own error codes.
func TestTencentsNodeSDKIsAnsweredOverEverySigningForm(t *testing.T) {
	node, dir := nodeSDKDir(t)
	s := simtest.Start(t, nodeState, sim.Options{}, cloudsim.Products()...)
	script, err := filepath.Abs("testdata/nodesdk.js")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(s.Addr, ":")
	cmd := exec.Command(node, script, port, "node-id", "node-key")
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"), "http_proxy=", "HTTP_PROXY=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s\n%s", err, out, stderr.String())
	}
	type result struct {
		Name    string
		OK      bool
		Code    string
		Message string
		Result  map[string]any
	}
	got := map[string]result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("node printed %q: %v", sc.Text(), err)
		}
		got[r.Name] = r
	}
	for _, name := range []string{"TC3 POST DescribeInstances", "TC3 GET DescribeInstances", "HmacSHA256 GET DescribeInstances", "HmacSHA256 POST DescribeInstances"} {
		r := got[name]
		if !r.OK {
			t.Errorf("%s: refused %s %s", name, r.Code, r.Message)
			continue
		}
		var ids []string
		set, _ := r.Result["InstanceSet"].([]any)
		for _, e := range set {
			ids = append(ids, e.(map[string]any)["InstanceId"].(string))
		}
		if r.Result["TotalCount"] != float64(2) || strings.Join(ids, ",") != "crs-node-1,crs-node-2" {
			t.Errorf("%s: TotalCount %v, instances %v; want the two tagged env=node", name, r.Result["TotalCount"], ids)
		}
	}
	if r := got["TC3 POST UpgradeInstance"]; !r.OK || (r.Result["DealId"] == nil && r.Result["DealName"] == nil) {
		t.Errorf("UpgradeInstance: %+v, want an accepted deal", r)
	}
	if r := got["TC3 GET wrong secret"]; r.OK || r.Code != "AuthFailure.SignatureFailure" {
		t.Errorf("a wrong secret key: %+v, want AuthFailure.SignatureFailure", r)
	}
	if r := got["TC3 POST unknown parameter"]; r.OK || r.Code != "UnknownParameter" {
		t.Errorf("an unknown parameter: %+v, want UnknownParameter", r)
	}
	if n := s.CountOK("UpgradeInstance"); n != 1 {
		t.Errorf("the simulator accepted %d upgrades, want 1", n)
	}
}
