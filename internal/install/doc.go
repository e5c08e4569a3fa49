// Package install tests `make install`: the command-line tools and the shell-script names that
// existing CI jobs call (retry_backoff.sh, qos_guard.sh), which must behave as the tools do.
package install
