//go:build windows

package operation

import "os/exec"

// setProcessGroup keeps exec's default on Windows: the process itself is killed.
func setProcessGroup(*exec.Cmd) {}

func shellArgv(s string) []string { return []string{"cmd.exe", "/C", s} }
