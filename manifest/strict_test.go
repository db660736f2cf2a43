package manifest

import (
	"runtime"
	"strings"
	"testing"
)

// Reproductions of issue 13: inputs that validated but changed what runs.

func TestWholeNumbersWrittenAsFloatsAreTakenAsThoseIntegers(t *testing.T) {
	src := header +
		"  - {name: k, kind: alibaba.kafka, region: cn-hangzhou, select: {tags: {env: prod}}, desired: {version: \"2.2.0\"}, canary: 1.0, maxConcurrent: 2.0}\n" +
		"settings: {parallelism: 3.0, maxFailures: 1e0}\n"
	f, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tg := f.Targets[0]
	if tg.Canary != 1 || tg.MaxConcurrent != 2 {
		t.Errorf("canary %d, maxConcurrent %d; want 1 and 2 (written 1.0 and 2.0)", tg.Canary, tg.MaxConcurrent)
	}
	s := f.Settings
	if s.Parallelism != 3 || !s.MaxFailures.Set || s.MaxFailures.Count != 1 {
		t.Errorf("parallelism %d, maxFailures %+v; want 3 and a count of 1 (written 3.0 and 1e0)", s.Parallelism, s.MaxFailures)
	}
}

func TestAWholeNumberTooLargeForItsFieldIsRefusedWithItsPosition(t *testing.T) {
	got := problemsOf(t, header+mongo+"settings: {parallelism: 1e20}\n")
	if len(got) != 1 || !strings.HasPrefix(got[0], "f.yaml:6:25: settings.parallelism:") {
		t.Fatalf("problems %q; want one at settings.parallelism (6:25)", got)
	}
}

func TestASelectionMustNameAnIdOrATag(t *testing.T) {
	for name, sel := range map[string]string{
		"empty tags":          "{tags: {}}",
		"empty ids":           "{ids: []}",
		"empty tags with ids": "{ids: [a], tags: {}}",
		"empty select":        "{}",
	} {
		t.Run(name, func(t *testing.T) {
			src := header + "  - {name: m, kind: alibaba.mongodb, region: cn-hangzhou, select: " + sel + ", desired: {kernelVersion: latest}}\n"
			if got := problemsOf(t, src); len(got) == 0 || !strings.Contains(got[0], "targets[0].select") {
				t.Fatalf("select: %s gave problems %q; want it refused at targets[0].select", sel, got)
			}
		})
	}
}

const computeNest = "  - name: cn\n    kind: alibaba.computenest\n    region: cn-hangzhou\n    select: {ids: [si-1]}\n    desired:\n      serviceVersion: \"3\"\n      parameters:\n"

func TestASecretNamedComputeNestParameterMustComeFromTheEnvironment(t *testing.T) {
	for _, name := range []string{"InstancePassword", "DbSecret", "apiToken", "AccessKEY"} {
		t.Run(name, func(t *testing.T) {
			got := problemsOf(t, header+computeNest+"        "+name+": hunter2secret\n")
			if len(got) != 1 || !strings.HasPrefix(got[0], "f.yaml:12:") || !strings.Contains(got[0], "{fromEnv: NAME}") {
				t.Fatalf("problems %q; want one at line 12 asking for {fromEnv: NAME}", got)
			}
			if strings.Contains(strings.Join(got, "\n"), "hunter2") {
				t.Fatalf("the problem echoes the secret: %q", got)
			}
		})
	}
	if got := problemsOf(t, header+computeNest+"        InstancePassword: {fromEnv: SI_PASSWORD}\n        EcsInstanceType: ecs.g7.large\n"); got != nil {
		t.Fatalf("a {fromEnv} password and a plain instance type: %q", got)
	}
}

func TestFromEnvMayNotNameTheToolsOwnCredentials(t *testing.T) {
	accounts := "accounts:\n  prod: {cloud: alibaba, accessKeyId: {fromEnv: PROD_AK}, accessKeySecret: {fromEnv: PROD_SK}}\n"
	for _, v := range []string{"ALIBABA_CLOUD_ACCESS_KEY_SECRET", "TENCENTCLOUD_SECRET_KEY", "PROD_SK", "PROD_AK"} {
		t.Run(v, func(t *testing.T) {
			got := problemsOf(t, header+computeNest+"        InstancePassword: {fromEnv: "+v+"}\n"+accounts)
			if len(got) != 1 || !strings.HasPrefix(got[0], "f.yaml:12:") || !strings.Contains(got[0], v) {
				t.Fatalf("problems %q; want one at line 12 naming %s", got, v)
			}
		})
	}
}

func TestALongErrorLineIsCutWithACountOfWhatWasLeftOut(t *testing.T) {
	p := Problem{Pos: Pos{File: "f.yaml", Line: 1, Col: 1}, Path: "x", Message: strings.Repeat("ab", 100_000)}
	got := p.String()
	if len(got) > MaxMessageLength+100 || !strings.Contains(got, "more characters") {
		t.Fatalf("a %d-character message printed as %d characters: %.80q…", len(p.Message), len(got), got)
	}
}

// hostileManifests are files near the size limit that cost the most to read: long lists of
// tiny items, where the original parser spent 3 GB on 8 MB.
func hostileManifests() map[string][]byte {
	list := func(prefix, item, suffix string, size int) []byte {
		var b strings.Builder
		b.WriteString(prefix)
		for b.Len() < size-len(suffix)-len(item)-1 {
			b.WriteString(item)
			b.WriteByte(',')
		}
		b.WriteString(item)
		b.WriteString(suffix)
		return []byte(b.String())
	}
	const size = MaxFileSize - 1
	return map[string][]byte{
		"a 5M-item list under an unknown key": list(header+mongo+"junk: [", "a", "]\n", size),
		"a million ids": list(header+"  - {name: m, kind: alibaba.mongodb, region: cn-hangzhou, desired: {kernelVersion: latest}, select: {ids: [",
			"i-1234567", "]}}\n", size),
		"a block list of nulls": []byte(header + mongo + "junk:\n" + strings.Repeat("-\n", (size-200)/2)),
		"a flow map of keys":    list(header+mongo+"junk: {", "k", "}\n", size),
		// Just under MaxValues: parsed, then refused by the rules.
		"the most values allowed, under an unknown key": list(header+mongo+"junk: [", "a", "]\n", underLimit("a,")),
		"the most duplicate ids allowed": list(header+"  - {name: m, kind: alibaba.mongodb, region: cn-hangzhou, desired: {kernelVersion: latest}, select: {ids: [",
			"i-1234567", "]}}\n", underLimit("i-1234567,")),
		"the most duplicate keys allowed": list(header+mongo+"junk: {", "k: 1", "}\n", underLimit("k: 1,")),
		"the most nulls allowed":          []byte(header + mongo + "junk:\n" + strings.Repeat("-\n", MaxValues-200)),
	}
}

// underLimit is the size of a list of items that stays just under MaxValues.
func underLimit(item string) int {
	n, _ := countValues([]byte(item), MaxValues)
	return (MaxValues/n - 100) * len(item)
}

func TestAHostileManifestIsRefusedWithinBoundedMemory(t *testing.T) {
	for name, data := range hostileManifests() {
		t.Run(name, func(t *testing.T) {
			var err error
			allocated := bytesAllocated(func() { _, err = Parse("f.yaml", data) })
			if err == nil {
				t.Fatal("a hostile manifest was accepted")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) > MaxProblems+1 {
				t.Errorf("the error has %d lines; at most %d problems are printed, then a count", len(lines), MaxProblems)
			}
			for _, l := range lines {
				if len(l) > MaxMessageLength+200 {
					t.Fatalf("an error line is %d bytes long: %.200q", len(l), l)
				}
			}
			if allocated > 200<<20 {
				t.Errorf("validating %d bytes allocated %d MB; the bound is 200 MB", len(data), allocated>>20)
			}
		})
	}
}

func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// BenchmarkHostileManifest times the hostile files (the bound: under a second each).
func BenchmarkHostileManifest(b *testing.B) {
	for name, data := range hostileManifests() {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Parse("f.yaml", data)
			}
		})
	}
}

func TestARateBelowTheFloorIsRefused(t *testing.T) {
	got := problemsOf(t, header+mongo+"settings: {qps: {alibaba.mongodb/DescribeDBInstances: 1e-300}}\n")
	if len(got) != 1 || !strings.Contains(got[0], `settings.qps["alibaba.mongodb/DescribeDBInstances"]`) || !strings.Contains(got[0], "floor") {
		t.Fatalf("problems %q; want the rate refused at its key", got)
	}
}
