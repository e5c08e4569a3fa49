//go:build windows

package module

// writeSyslog does nothing on Windows: there is no syslog, and the event log is not written.
func writeSyslog(facility, tag, msg string) {}
