package secretname

import "testing"

func TestNamesThatSayTheyHoldASecret(t *testing.T) {
	for name, want := range map[string]bool{
		"InstancePassword": true, "DbSecret": true, "ApiToken": true, "AccessKey": true,
		"APITOKEN": true, "EcsInstanceType": false, "ZoneId": false, "": false,
	} {
		if got := Is(name); got != want {
			t.Errorf("Is(%q) = %v, want %v", name, got, want)
		}
	}
}
