package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// header starts every test manifest; the first target line is line 5.
const header = "apiVersion: upgradeplan/v1\nkind: Fleet\nmetadata: {name: t}\ntargets:\n"

const mongo = "  - {name: m, kind: alibaba.mongodb, region: cn-hangzhou, select: {tags: {env: prod}}, desired: {kernelVersion: latest}}\n"

func problemsOf(t *testing.T, src string) []string {
	t.Helper()
	f, err := Parse("f.yaml", []byte(src))
	if err == nil {
		if f == nil {
			t.Fatal("Parse returned neither a fleet nor an error")
		}
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse error is %T, want Problems: %v", err, err)
	}
	if f != nil {
		t.Error("Parse returned a fleet together with problems")
	}
	return strings.Split(ps.Error(), "\n")
}

func TestEachRuleIsReportedAtTheExactPosition(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"a valid manifest has no problems", header + mongo, nil},
		{"a duplicate key points at the second key",
			header + "  - name: a\n    name: b\n    kind: alibaba.mongodb\n    region: cn-hangzhou\n    select: {ids: [x]}\n    desired: {kernelVersion: latest}\n",
			[]string{`f.yaml:6:5: targets[0].name: duplicate key "name" (first at line 5); remove one`}},
		{"an unknown key points at the key and lists the valid ones",
			header + mongo + "settings: {paralelism: 3}\n",
			[]string{`f.yaml:6:12: settings.paralelism: unknown field "paralelism"; valid fields: maxFailures, notify, parallelism, pollInterval, qps, stepTimeout, window`}},
		{"an unknown kind lists the five kinds",
			header + "  - {name: a, kind: alibaba.kafk, region: cn-hangzhou, select: {ids: [x]}, desired: {version: \"2.2.0\"}}\n",
			[]string{`f.yaml:5:21: targets[0].kind: must be one of "alibaba.kafka", "alibaba.mongodb", "alibaba.rabbitmq", "alibaba.computenest", "tencent.redis", not "alibaba.kafk"; did you mean "alibaba.kafka"?`}},
		{"desired is checked against its kind",
			header + "  - {name: a, kind: alibaba.kafka, region: cn-hangzhou, select: {ids: [x]}, desired: {kernelVersion: latest}}\n",
			[]string{
				`f.yaml:5:86: targets[0].desired: missing required field "version" (one of "0.10.2", "2.2.0")`,
				`f.yaml:5:87: targets[0].desired.kernelVersion: unknown field "kernelVersion"; valid fields: latestMinor, version`,
			}},
		{"an unquoted short Kafka version is told the full version, quoted",
			header + "  - {name: a, kind: alibaba.kafka, region: cn-hangzhou, select: {ids: [x]}, desired: {version: 2.2}}\n",
			[]string{`f.yaml:5:96: targets[0].desired.version: must be one of "0.10.2", "2.2.0", not 2.2; write "2.2.0", in quotes`}},
		{"a quoted short Kafka version is told the full version",
			header + "  - {name: a, kind: alibaba.kafka, region: cn-hangzhou, select: {ids: [x]}, desired: {version: \"0.10\"}}\n",
			[]string{`f.yaml:5:96: targets[0].desired.version: must be one of "0.10.2", "2.2.0", not "0.10"; did you mean "0.10.2"?`}},
		{"redis memory must be a multiple of 1024",
			header + "  - name: r\n    kind: tencent.redis\n    region: ap-shanghai\n    select: {ids: [crs-1]}\n    desired: {memSizeMB: 3000}\n",
			[]string{`f.yaml:9:26: targets[0].desired.memSizeMB: 3000 is not a multiple of 1024`}},
		{"redis needs at least one of its three sizes",
			header + "  - {name: r, kind: tencent.redis, region: ap-shanghai, select: {ids: [crs-1]}, desired: {}}\n",
			[]string{`f.yaml:5:90: targets[0].desired: set at least one of: memSizeMB, replicas, shards`}},
		{"a qps key must name a known kind and action",
			header + mongo + "settings:\n  qps: {alibaba.kafka/Upgrade: 1}\n",
			[]string{`f.yaml:7:9: settings.qps["alibaba.kafka/Upgrade"]: unknown key "alibaba.kafka/Upgrade"; valid keys: alibaba.kafka/GetInstanceList, alibaba.kafka/UpgradeInstanceVersion, alibaba.mongodb/DescribeDBInstances, alibaba.mongodb/DescribeDBInstanceAttribute, alibaba.mongodb/DescribeKernelReleaseNotes, alibaba.mongodb/UpgradeDBInstanceKernelVersion, alibaba.rabbitmq/ListInstances, alibaba.rabbitmq/GetInstance, alibaba.rabbitmq/UpdateInstance, alibaba.computenest/ListServiceInstances, alibaba.computenest/GetServiceInstance, alibaba.computenest/UpgradeServiceInstance, tencent.redis/DescribeInstances, tencent.redis/UpgradeInstance, tencent.redis/DescribeInstanceDealDetail`}},
		{"target names are unique",
			header + mongo + mongo,
			[]string{`f.yaml:6:12: targets[1].name: duplicate target name "m" (targets[0] at line 5 has it too); rename one`}},
		{"dependsOn names an existing target",
			header + "  - {name: a, kind: alibaba.mongodb, region: cn-hangzhou, select: {ids: [x]}, desired: {kernelVersion: latest}, dependsOn: [b]}\n",
			[]string{`f.yaml:5:125: targets[0].dependsOn[0]: unknown target "b"; targets are: a`}},
		{"a cycle is named whole, in order, from its first target",
			header +
				"  - {name: a, kind: alibaba.mongodb, region: cn-hangzhou, select: {ids: [x]}, desired: {kernelVersion: latest}, dependsOn: [b]}\n" +
				"  - {name: b, kind: alibaba.mongodb, region: cn-hangzhou, select: {ids: [x]}, desired: {kernelVersion: latest}, dependsOn: [c]}\n" +
				"  - {name: c, kind: alibaba.mongodb, region: cn-hangzhou, select: {ids: [x]}, desired: {kernelVersion: latest}, dependsOn: [a]}\n",
			[]string{`f.yaml:5:125: targets[0].dependsOn[0]: dependency cycle a -> b -> c -> a; remove one of these dependsOn entries`}},
		{"a target depending on itself is a cycle",
			header + "  - {name: a, kind: alibaba.mongodb, region: cn-hangzhou, select: {ids: [x]}, desired: {kernelVersion: latest}, dependsOn: [a]}\n",
			[]string{`f.yaml:5:125: targets[0].dependsOn[0]: dependency cycle a -> a; remove one of these dependsOn entries`}},
		{"the window must end after it starts",
			header + mongo + "settings:\n  window:\n    start: 2026-11-28T05:00:00+08:00\n    end: 2026-11-28T01:00:00+08:00\n",
			[]string{`f.yaml:9:10: settings.window.end: the window ends at 2026-11-28T01:00:00+08:00, not after its start 2026-11-28T05:00:00+08:00; move end later`}},
		{"the cutoff must be shorter than the window",
			header + mongo + "settings:\n  window: {start: \"2026-11-28T01:00:00Z\", end: \"2026-11-28T02:00:00Z\", cutoff: 1h}\n",
			[]string{`f.yaml:7:80: settings.window.cutoff: cutoff 1h0m0s is not shorter than the window (1h0m0s), so no step could start; shorten it`}},
		{"a window time needs an offset",
			header + mongo + "settings:\n  window: {start: \"2026-11-28 01:00\", end: \"2026-11-28T02:00:00Z\"}\n",
			[]string{`f.yaml:7:19: settings.window.start: "2026-11-28 01:00" is not a time; write RFC 3339 with an offset, e.g. "2026-11-28T01:00:00+08:00"`}},
		{"maxFailures is a count or a percentage",
			header + mongo + "settings: {maxFailures: lots}\n",
			[]string{`f.yaml:6:25: settings.maxFailures: "lots" is not a count or a percentage; write a count such as 3 or a percentage such as "5%"`}},
		{"a percentage above 100 is refused",
			header + mongo + "settings: {maxFailures: 150%}\n",
			[]string{`f.yaml:6:25: settings.maxFailures: "150%" is not a percentage between 0 and 100; write at most "100%"`}},
		{"a zero percentage is told to use the count 0",
			header + mongo + "settings: {maxFailures: 0%}\n",
			[]string{`f.yaml:6:25: settings.maxFailures: "0%" is not a percentage between 0 and 100; use 0 (not "0%") to stop at the first failure`}},
		{"a negative count is refused",
			header + mongo + "settings: {maxFailures: -1}\n",
			[]string{`f.yaml:6:25: settings.maxFailures: must be at least 0, not -1`}},
		{"durations must parse",
			header + mongo + "settings: {pollInterval: 15 seconds, stepTimeout: 0s}\n",
			[]string{
				`f.yaml:6:26: settings.pollInterval: "15 seconds" is not a duration; write it like 30s, 15m or 1h30m`,
				`f.yaml:6:51: settings.stepTimeout: "0s" must be longer than zero`,
			}},
		{"a literal secret is refused without being repeated",
			header + mongo + "accounts:\n  p: {cloud: alibaba, accessKeyId: LTAI5t, accessKeySecret: s3cr3t}\n",
			[]string{`f.yaml:7:61: accounts.p.accessKeySecret: must be {fromEnv: NAME}: a secret is read from the environment when a call is made, never written in the manifest`}},
		{"tencent keys are not allowed on an alibaba account",
			header + mongo + "accounts:\n  p: {cloud: alibaba, accessKeyId: LTAI5t, accessKeySecret: {fromEnv: SK}, secretKey: {fromEnv: X}}\n",
			[]string{`f.yaml:7:76: accounts.p.secretKey: field "secretKey" is not allowed when cloud is alibaba`}},
		{"a target's account must exist",
			header + "  - {name: m, kind: alibaba.mongodb, region: cn-hangzhou, account: prod, select: {ids: [x]}, desired: {kernelVersion: latest}}\n",
			[]string{`f.yaml:5:68: targets[0].account: unknown account "prod"; define it under accounts, or leave account out to use the default credentials`}},
		{"a target's account must be of its cloud",
			header + "  - {name: m, kind: alibaba.mongodb, region: cn-hangzhou, account: tc, select: {ids: [x]}, desired: {kernelVersion: latest}}\n" +
				"accounts: {tc: {cloud: tencent, secretId: AKID1, secretKey: {fromEnv: TC_SK}}}\n",
			[]string{`f.yaml:5:68: targets[0].account: account "tc" is for tencent, but kind alibaba.mongodb runs on alibaba; use an account of that cloud`}},
		{"select must choose by ids or tags",
			header + "  - {name: m, kind: alibaba.mongodb, region: cn-hangzhou, select: {}, desired: {kernelVersion: latest}}\n",
			[]string{`f.yaml:5:67: targets[0].select: set at least one of: ids, tags`}},
		{"a missing required field points at the mapping that lacks it",
			"apiVersion: upgradeplan/v1\nkind: Fleet\ntargets:\n" + mongo,
			[]string{`f.yaml:1:1: missing required field "metadata"`}},
		{"the wrong apiVersion says which one is right",
			strings.Replace(header, "upgradeplan/v1", "upgradeplan/v2", 1) + mongo,
			[]string{`f.yaml:1:13: apiVersion: must be "upgradeplan/v1", not "upgradeplan/v2"`}},
		{"a document that is a list is refused",
			"- a\n- b\n",
			[]string{`f.yaml:1:1: must be a mapping, not a list`}},
		{"an empty file says what to start with",
			"",
			[]string{`f.yaml:1:1: the file is empty; a manifest starts with apiVersion: upgradeplan/v1`}},
		{"a second document is refused",
			header + mongo + "---\nkind: Fleet\n",
			[]string{`f.yaml:6:1: a second YAML document; a manifest is one document (remove the ---)`}},
		{"a tab in the indentation is a YAML error with its line",
			header + "  - name: m\n\tkind: alibaba.mongodb\n",
			[]string{`f.yaml:6:1: invalid YAML: a tab character in the indentation; indent with spaces only`}},
		{"a tab as indentation is named as a tab and the fix is said",
			header + "  - name: m\n    kind: alibaba.mongodb\n    select:\n\tids: [x]\n",
			[]string{`f.yaml:8:1: invalid YAML: a tab character in the indentation; indent with spaces only`}},
		{"an unclosed flow mapping points at the line that opens it",
			header + mongo + "settings: {parallelism: 3\n",
			[]string{`f.yaml:6:1: invalid YAML: did not find expected ',' or '}' (the { on this line is not closed, or a , is missing)`}},
		{"an unclosed flow list points at the line that opens it",
			header + "  - name: m\n    kind: alibaba.mongodb\n    select: {ids: [x, y}\n",
			[]string{`f.yaml:7:1: invalid YAML: did not find expected ',' or ']' (the [ on this line is not closed, or a , is missing)`}},
		{"a key indented less than its siblings points at the list it breaks and says to check indentation",
			header + "  - name: m\n    kind: alibaba.mongodb\n   region: cn-hangzhou\n",
			[]string{`f.yaml:5:1: invalid YAML: did not find expected '-' indicator; check the indentation from this line on`}},
		{"a key indented less inside a mapping points at the line that breaks it",
			"apiVersion: upgradeplan/v1\nmetadata:\n  name: t\n owner: x\n",
			[]string{`f.yaml:4:1: invalid YAML: did not find expected key; check the indentation from this line on`}},
		{"a file holding only a document marker is empty",
			"---\n",
			[]string{`f.yaml:1:1: the file is empty; a manifest starts with apiVersion: upgradeplan/v1`}},
		{"a number where a duration belongs asks for a unit, not quotes",
			header + mongo + "settings: {pollInterval: 15, window: {start: \"2026-11-28T01:00:00Z\", end: \"2026-11-28T05:00:00Z\", cutoff: 30}}\n",
			[]string{
				`f.yaml:6:26: settings.pollInterval: must be a duration with a unit, not 15; write it like 15s, 30m or 1h30m`,
				`f.yaml:6:107: settings.window.cutoff: must be a duration with a unit, not 30; write it like 15s, 30m or 1h30m`,
			}},
		{"an integer too large for 64 bits is refused, not ignored",
			header + mongo + "settings: {parallelism: 99999999999999999999, maxFailures: 18446744073709551616}\n",
			[]string{
				`f.yaml:6:25: settings.parallelism: 99999999999999999999 is not an integer that fits in 64 bits`,
				`f.yaml:6:60: settings.maxFailures: 18446744073709551616 is not an integer that fits in 64 bits`,
			}},
		{"a count too large names the one limit every count has, however the number is written",
			header + "  - {name: m, kind: alibaba.mongodb, region: cn-hangzhou, select: {ids: [x]}, desired: {kernelVersion: latest}, canary: 9007199254740991, maxConcurrent: 2147483648}\n" +
				"settings: {parallelism: 1e18, maxFailures: 2147483647}\n",
			[]string{
				`f.yaml:5:121: targets[0].canary: 9007199254740991 is too large; write a whole number of at most 2147483647`,
				`f.yaml:5:154: targets[0].maxConcurrent: 2147483648 is too large; write a whole number of at most 2147483647`,
				`f.yaml:6:25: settings.parallelism: 1e18 is too large; write a whole number of at most 2147483647`,
			}},
		{"an alias bomb is stopped",
			"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
			[]string{`f.yaml:4:36: d: YAML aliases expand to more than 10000 values; write the values out or use fewer aliases`}},
		{"an alias inside its own anchor is refused",
			"a: &a [*a]\n",
			[]string{`f.yaml:1:8: a: alias *a is used inside its own anchor &a`}},
		{"an alias of an undefined anchor points at the alias, not at a comment or string that spells it",
			header + "  # *nope is not defined yet\n  - name: m\n    region: \"*nope\"\n    desired: *nope\n    select: *nope\n",
			[]string{`f.yaml:8:14: invalid YAML: unknown anchor 'nope' referenced; define &nope before this alias, or remove the *`}},
		{"an alias in a block scalar is text, and the real alias below it is named",
			"a: |\n  *x\nb: [1, *x]\n",
			[]string{`f.yaml:3:8: invalid YAML: unknown anchor 'x' referenced; define &x before this alias, or remove the *`}},
		{"a byte that is not UTF-8 is pointed at",
			"apiVersion: upgradeplan/v1\nkind: Fleet\nmetadata: {name: \"t\xff\"}\n",
			[]string{`f.yaml:3:20: invalid YAML: invalid leading UTF-8 octet; a manifest must be UTF-8 text`}},
		{"a control character is pointed at and named, columns counted in characters",
			"apiVersion: upgradeplan/v1\nkind: Fleet\nmetadata: {name: \"é\x07\"}\n",
			[]string{`f.yaml:3:20: invalid YAML: control characters are not allowed (U+0007); remove it`}},
		{"nesting deeper than the bound is refused",
			"apiVersion: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n",
			[]string{`f.yaml:1:77: apiVersion: nested more than 64 levels deep`}},
		{"every problem of a file is reported, sorted by position",
			header + "  - {name: a, kind: alibaba.kafka, region: cn-hangzhou, select: {ids: [x]}, desired: {version: \"3.0\"}, dependsOn: [z]}\n" +
				"settings: {parallelism: 0}\n",
			[]string{
				`f.yaml:5:96: targets[0].desired.version: must be one of "0.10.2", "2.2.0", not "3.0"`,
				`f.yaml:5:116: targets[0].dependsOn[0]: unknown target "z"; targets are: a`,
				`f.yaml:6:25: settings.parallelism: must be at least 1, not 0`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemsOf(t, tt.src)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestAFileOverTenMebibytesIsRefusedUnread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	if err := os.WriteFile(path, []byte(strings.Repeat("#", MaxFileSize+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + ":1:1: the file is larger than 10 MiB; a manifest must be smaller"
	if err == nil || err.Error() != want {
		t.Fatalf("Load error = %v, want %q", err, want)
	}
}

func TestTheDemoFleetDecodesIntoTypedValues(t *testing.T) {
	f, err := Load("../examples/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata.Name != "demo" || len(f.Targets) != 5 || len(f.SHA256) != 64 {
		t.Fatalf("metadata %+v, %d targets, sha %q", f.Metadata, len(f.Targets), f.SHA256)
	}
	want := []struct {
		name, kind, region string
		desired            map[string]any
		dependsOn          []string
	}{
		{"kafka-hz", "alibaba.kafka", "cn-hangzhou", map[string]any{"version": "2.2.0"}, nil},
		{"mongo-hz", "alibaba.mongodb", "cn-hangzhou", map[string]any{"kernelVersion": "latest"}, nil},
		{"rabbit-hz", "alibaba.rabbitmq", "cn-hangzhou", map[string]any{"maxPrivateTps": int64(5000), "queueCapacity": int64(2000)}, []string{"kafka-hz"}},
		{"marketplace", "alibaba.computenest", "cn-hangzhou", map[string]any{"serviceVersion": "3", "parameters": map[string]any{
			"EcsInstanceType": "ecs.g7.large", "InstancePassword": SecretRef{FromEnv: "DEMO_SI_PASSWORD"}}}, nil},
		{"cache-sh", "tencent.redis", "ap-shanghai", map[string]any{"memSizeMB": int64(8192), "shards": int64(5)}, []string{"mongo-hz"}},
	}
	for i, w := range want {
		got := f.Targets[i]
		if got.Name != w.name || got.Kind != w.kind || got.Region != w.region || got.Index != i {
			t.Errorf("targets[%d] = %s %s %s #%d, want %s %s %s", i, got.Name, got.Kind, got.Region, got.Index, w.name, w.kind, w.region)
		}
		if !reflect.DeepEqual(got.Desired, w.desired) {
			t.Errorf("targets[%d].desired = %#v, want %#v", i, got.Desired, w.desired)
		}
		if !reflect.DeepEqual(got.DependsOn, w.dependsOn) {
			t.Errorf("targets[%d].dependsOn = %v, want %v", i, got.DependsOn, w.dependsOn)
		}
	}
	k := f.Targets[0]
	if k.Canary != 1 || k.MaxConcurrent != 2 || !reflect.DeepEqual(k.Select.Tags, map[string]string{"env": "demo"}) {
		t.Errorf("kafka-hz canary %d maxConcurrent %d tags %v", k.Canary, k.MaxConcurrent, k.Select.Tags)
	}
	if ids := f.Targets[2].Select.IDs; !reflect.DeepEqual(ids, []string{"amqp-demo-1", "amqp-demo-2"}) {
		t.Errorf("rabbit-hz ids = %v", ids)
	}
	// The demo sets parallelism and pollInterval only; defaults are the planner's job, so
	// every other setting stays zero.
	if want := (Settings{Parallelism: 10, PollInterval: time.Second}); !reflect.DeepEqual(f.Settings, want) {
		t.Errorf("settings = %+v, want %+v", f.Settings, want)
	}
	for path, want := range map[string]Pos{
		"targets[4].desired.memSizeMB":                   {File: "../examples/fleet.yaml", Line: 72, Col: 18},
		"targets[3].desired.parameters.InstancePassword": {File: "../examples/fleet.yaml", Line: 62, Col: 27},
		"targets[0]":                 {File: "../examples/fleet.yaml", Line: 21, Col: 5},
		"targets[0].desired.version": {File: "../examples/fleet.yaml", Line: 27, Col: 16},
		"targets[3].desired.parameters.InstancePassword.fromEnv": {File: "../examples/fleet.yaml", Line: 62, Col: 37},
	} {
		if got := f.Pos(path); got != want {
			t.Errorf("Pos(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestSettingsAccountsAndTheWindowDecode(t *testing.T) {
	f, err := Load("../examples/change-window.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := f.Settings
	if s.Parallelism != 20 || s.PollInterval != 15*time.Second || s.StepTimeout != 2*time.Hour {
		t.Errorf("settings = %+v", s)
	}
	if s.MaxFailures != (Budget{Set: true, Percent: 5, IsPercent: true}) || s.MaxFailures.String() != "5%" {
		t.Errorf("maxFailures = %+v (%s)", s.MaxFailures, s.MaxFailures)
	}
	start := time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC)
	if s.Window == nil || !s.Window.Start.Equal(start) || !s.Window.End.Equal(start.Add(4*time.Hour)) || s.Window.Cutoff != 30*time.Minute {
		t.Errorf("window = %+v", s.Window)
	}
	wantQPS := map[string]float64{"alibaba.kafka/UpgradeInstanceVersion": 1, "alibaba.mongodb/DescribeDBInstances": 5, "tencent.redis/UpgradeInstance": 10}
	if !reflect.DeepEqual(s.QPS, wantQPS) {
		t.Errorf("qps = %v", s.QPS)
	}
	wantAccounts := map[string]Account{
		"prod-ali": {Cloud: "alibaba", KeyID: SecretRef{FromEnv: "PROD_ALI_AK"}, Secret: SecretRef{FromEnv: "PROD_ALI_SK"}},
		"prod-tc":  {Cloud: "tencent", KeyIDLiteral: "AKIDexampleexampleexample", Secret: SecretRef{FromEnv: "PROD_TC_SK"}},
	}
	if !reflect.DeepEqual(f.Accounts, wantAccounts) {
		t.Errorf("accounts = %+v", f.Accounts)
	}
	if f.Targets[2].Account != "prod-tc" {
		t.Errorf("cache-sh account = %q", f.Targets[2].Account)
	}
}

func TestAnchorsAndMergeKeysShareValues(t *testing.T) {
	src := header +
		"  - name: a\n    kind: alibaba.mongodb\n    region: cn-hangzhou\n    select: &prod {tags: {env: prod}}\n    desired: &latest {kernelVersion: latest}\n" +
		"  - <<: {kind: alibaba.mongodb, region: cn-hangzhou}\n    name: b\n    select: *prod\n    desired: *latest\n"
	f, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := f.Targets[1]
	if b.Kind != "alibaba.mongodb" || b.Region != "cn-hangzhou" || b.Select.Tags["env"] != "prod" || b.Desired["kernelVersion"] != "latest" {
		t.Errorf("targets[1] = %+v", b)
	}
	// The alias is where the value is used.
	if got := f.Pos("targets[1].desired"); got.Line != 13 || got.Col != 14 {
		t.Errorf("Pos(targets[1].desired) = %v, want line 13 col 14", got)
	}
}

func TestTheExamplesAreValid(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) < 7 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "# yaml-language-server: $schema=../schema/fleet.schema.json\n") {
			t.Errorf("%s does not start with the yaml-language-server schema line", file)
		}
		if _, err := Parse(file, data); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}
