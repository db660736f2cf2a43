package peakrss

import "testing"

func TestParseHWMReadsTheKilobytesOfTheVmHWMLine(t *testing.T) {
	status := []byte("Name:\tupgradeplan\nVmPeak:\t  900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n")
	n, err := parseHWM(status)
	if err != nil || n != 123456*1024 {
		t.Fatalf("parseHWM = %d, %v; want %d", n, err, 123456*1024)
	}
	if _, err := parseHWM([]byte("Name:\tx\nVmRSS:\t1 kB\n")); err == nil {
		t.Fatal("a status without VmHWM parsed")
	}
	if _, err := parseHWM([]byte("VmHWM:\t12 MB\n")); err == nil {
		t.Fatal("a VmHWM in another unit parsed")
	}
}
