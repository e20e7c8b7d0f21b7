package samba

import "testing"

func TestParseStat(t *testing.T) {
	// A command name with spaces and a ')' of its own, as prctl allows.
	line := "4242 (smbd: cli) 9) S 17 4242 4242 0 -1 4194560 900 0 0 0 123 45 6 7 20 0 1 0 100 80000000 2000 18446744073709551615 0 0 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
	st, ok := parseStat(line)
	if !ok {
		t.Fatal("not parsed")
	}
	if st.state != 'S' || st.ppid != 17 || st.utime != 123 || st.stime != 45 || st.cutime != 6 || st.cstime != 7 {
		t.Errorf("parsed %+v", st)
	}
	for _, bad := range []string{"", "4242 smbd S 1", "4242 (smbd) S 1 2 3", "4242 (smbd) SS 17 4242 4242 0 -1 4194560 900 0 0 0 123 45 6 7 20"} {
		if _, ok := parseStat(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}
