package mongodb

import "testing"

func TestKernelSpellingsNameTheSameKernel(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"4.4.29-20240611143518_0", "mongodb_20240611_4.4.29", true},
		{"5.0.5-20220721143518_0", "mongodb_20220721_5.0.5", true},
		{"5.0.5-20220721143518_0", "mongodb_20220721_5.0.6", false},
		{"mongodb_20180619_0.4.9", "mongodb_20180619_0.4.9", true},
		{"mongodb_20180619_0.4.9", "0.4.9-20180619000000_0", true},
		{"4.4.29", "mongodb_20240611_4.4.29", false},
	}
	for _, tc := range tests {
		if got := sameKernel(tc.a, tc.b); got != tc.same {
			t.Errorf("sameKernel(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
	for _, v := range []string{"5.0.5-20220721143518_0", "mongodb_20180619_0.4.9"} {
		if _, ok := parseKernel(v); !ok {
			t.Errorf("the documented example %s does not parse", v)
		}
	}
	for _, v := range []string{"", "latest", "mongodb_x_4.4.1", "4.4-2024_0", "mongodb_20240611_4.4"} {
		if k, ok := parseKernel(v); ok {
			t.Errorf("%q parsed as %+v", v, k)
		}
	}
	if compareKernels("4.4.25-20231123000000_0", "mongodb_20240611_4.4.29") >= 0 {
		t.Error("4.4.25 must sort before 4.4.29 across spellings")
	}
}
