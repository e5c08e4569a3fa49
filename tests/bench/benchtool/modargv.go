package main

import (
	"io"
	"os"
	"path/filepath"
	"sync"
)

var (
	moduleLinksMu sync.Mutex
	moduleLinks   = map[string]string{}
)

// moduleArgv returns the command that runs the module binary bin on the argument file f as the
// action plugin runs a cached module: under the name AnsiballZ_<name>, with the arguments on its
// standard input (module.ArgsFile). Under its plain name the binary is the command-line tool.
// The small sh in front reads f into the binary's stdin and execs it.
func moduleArgv(bin, f string) []string {
	moduleLinksMu.Lock()
	defer moduleLinksMu.Unlock()
	prog, ok := moduleLinks[bin]
	if !ok {
		dir, err := os.MkdirTemp("", "benchtool-mod-")
		if err == nil {
			prog = filepath.Join(dir, "AnsiballZ_"+filepath.Base(bin))
			if os.Link(bin, prog) != nil {
				err = copyExecutable(bin, prog)
			}
		}
		if err != nil {
			prog = bin // the run then fails visibly: the tool prints no JSON
		}
		moduleLinks[bin] = prog
	}
	return []string{"/bin/sh", "-c", `exec "$0" - <"$1"`, prog, f}
}

func copyExecutable(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o700)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
