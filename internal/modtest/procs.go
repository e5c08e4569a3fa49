package modtest

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Ended waits until process pid runs no more (gone, or a zombie), with a safety deadline against
// a hang: it measures nothing.
func Ended(t testing.TB, pid int) bool {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
