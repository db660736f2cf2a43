package executor

import (
	"os"
	"sort"
	"strings"

	"github.com/upgradeplan/upgradeplan/provider"
)

// This file finds the account names that are one account at the cloud. A cloud's rate
// caps are per account; a plan names accounts by the manifest's names, and two names can
// carry one key (two aliases of one AccessKey, or a name and the default chain's key from
// the environment). Their requests then meet the same caps at the server, so they take
// their tokens from the same buckets.

// defaultKeyIDEnv is, by cloud, the variable the SDK's default chain takes its key id
// from first. A default chain that reads a profile file or an instance role has no key id
// to compare, and keeps its buckets.
var defaultKeyIDEnv = map[string]string{
	"alibaba": "ALIBABA_CLOUD_ACCESS_KEY_ID",
	"tencent": "TENCENTCLOUD_SECRET_ID",
}

// SharedBuckets maps "cloud/name" of every account name (the default chain's name is "")
// that shares its key id with another name of the cloud to the name whose buckets they all
// use: the first in sort order, so the default chain's when it is one of them. Names whose
// key id is not known (unset variables) are left out: they keep their own buckets. getenv
// reads the key id variables; key ids are identifiers, not secrets, and are kept nowhere.
func SharedBuckets(accounts map[string]provider.Account, getenv func(string) string) map[string]string {
	if getenv == nil {
		getenv = os.Getenv
	}
	byKey := map[string][]string{} // "cloud/key id" → the account names with it
	add := func(cloud, name, keyID string) {
		if cloud != "" && keyID != "" {
			k := cloud + "/" + keyID
			byKey[k] = append(byKey[k], name)
		}
	}
	for cloud, env := range defaultKeyIDEnv {
		add(cloud, "", getenv(env))
	}
	for name, a := range accounts {
		if a.Default() {
			continue // the default chain, under a name: resolved like ""
		}
		id, err := a.ResolveKeyID(getenv)
		if err == nil {
			add(a.Cloud, name, id)
		}
	}
	out := map[string]string{}
	for k, names := range byKey {
		if len(names) < 2 {
			continue
		}
		sort.Strings(names)
		cloud, _, _ := strings.Cut(k, "/")
		for _, n := range names {
			out[cloud+"/"+n] = names[0]
		}
	}
	return out
}
