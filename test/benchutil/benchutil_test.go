package benchutil

import (
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 2, 3}, 2.5}} {
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDDCheck(t *testing.T) {
	out := []byte("1024+0 records in\n1024+0 records out\n1073741824 bytes (1.1 GB, 1.0 GiB) copied, 1.2 s, 895 MB/s\n")
	if err := DDCheck(out, 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := DDCheck(out, 1<<20); err == nil || !strings.Contains(err.Error(), "copied 1073741824") {
		t.Fatalf("short count: %v", err)
	}
	if err := DDCheck([]byte("dd: error writing\n"), 1); err == nil {
		t.Fatal("no count accepted")
	}
}

func TestLastLine(t *testing.T) {
	if got := LastLine("a\nb\nc\n"); got != "c" {
		t.Fatal(got)
	}
	if got := LastLine(strings.Repeat("x", 400)); len(got) != 300+len("…") {
		t.Fatal(len(got))
	}
}

func TestMountsUnder(t *testing.T) {
	if ms := MountsUnder("/nonexistent-dir-for-test"); len(ms) != 0 {
		t.Fatal(ms)
	}
	if _, ok := MountConn("/proc"); !ok {
		t.Skip("no /proc mount in the mount table")
	}
}
