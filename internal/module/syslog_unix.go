//go:build unix

package module

import (
	"log/syslog"
	"os"
	"strings"
)

// syslogAddrEnv, when set to "unixgram:/path" (or "udp:host:port"), sends the log to that socket
// instead of the host's; tests use it to read the messages back.
const syslogAddrEnv = "RESILIENCE_OPS_SYSLOG_ADDR"

var facilities = map[string]syslog.Priority{
	"LOG_KERN": syslog.LOG_KERN, "LOG_USER": syslog.LOG_USER, "LOG_MAIL": syslog.LOG_MAIL,
	"LOG_DAEMON": syslog.LOG_DAEMON, "LOG_AUTH": syslog.LOG_AUTH, "LOG_SYSLOG": syslog.LOG_SYSLOG,
	"LOG_LPR": syslog.LOG_LPR, "LOG_NEWS": syslog.LOG_NEWS, "LOG_UUCP": syslog.LOG_UUCP,
	"LOG_CRON": syslog.LOG_CRON, "LOG_AUTHPRIV": syslog.LOG_AUTHPRIV, "LOG_FTP": syslog.LOG_FTP,
	"LOG_LOCAL0": syslog.LOG_LOCAL0, "LOG_LOCAL1": syslog.LOG_LOCAL1, "LOG_LOCAL2": syslog.LOG_LOCAL2,
	"LOG_LOCAL3": syslog.LOG_LOCAL3, "LOG_LOCAL4": syslog.LOG_LOCAL4, "LOG_LOCAL5": syslog.LOG_LOCAL5,
	"LOG_LOCAL6": syslog.LOG_LOCAL6, "LOG_LOCAL7": syslog.LOG_LOCAL7,
}

// writeSyslog sends one message at LOG_INFO with the facility ansible passed (LOG_USER when
// unknown), tagged like Ansible's own modules. A host without syslog gets nothing and no error:
// logging never fails a task. Every message goes through logLine, so it stays one line. This is
// the one place the collection writes to syslog (Ctx.Log calls it).
func writeSyslog(facility, tag, msg string) {
	prio, ok := facilities[strings.ToUpper(facility)]
	if !ok {
		prio = syslog.LOG_USER
	}
	var (
		w   *syslog.Writer
		err error
	)
	if addr := os.Getenv(syslogAddrEnv); addr != "" {
		network, raddr, _ := strings.Cut(addr, ":")
		w, err = syslog.Dial(network, raddr, prio|syslog.LOG_INFO, tag)
	} else {
		w, err = syslog.New(prio|syslog.LOG_INFO, tag)
	}
	if err != nil {
		return
	}
	defer w.Close()
	_ = w.Info(logLine(msg))
}
