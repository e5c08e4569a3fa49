package storeconf

import (
	"flag"
	"strings"
	"testing"
	"time"

	"resilience.ops/internal/etcdstore"
	"resilience.ops/internal/state"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     map[string]any
		etcd    bool
		wantErr string
	}{
		{name: "default is the file store", raw: map[string]any{}},
		{name: "etcd", raw: map[string]any{"store": "etcd", "etcd_endpoints": "127.0.0.1:2379,127.0.0.1:22379", "etcd_timeout": "2"}, etcd: true},
		{name: "etcd options without store etcd", raw: map[string]any{"etcd_username": "u"}, wantErr: "parameter etcd_username: is given but store is file"},
		{name: "no endpoints", raw: map[string]any{"store": "etcd"}, wantErr: "parameter etcd_endpoints: is required"},
		{name: "bad timeout", raw: map[string]any{"store": "etcd", "etcd_endpoints": "h:1", "etcd_timeout": "-1"}, wantErr: "parameter etcd_timeout"},
		{name: "timeout out of range", raw: map[string]any{"store": "etcd", "etcd_endpoints": "h:1", "etcd_timeout": "1ms"}, wantErr: "parameter etcd_timeout: etcd_timeout must be between"},
		{name: "password without user", raw: map[string]any{"store": "etcd", "etcd_endpoints": "h:1", "etcd_password": "pw"}, wantErr: "parameter etcd_password: etcd_password needs etcd_username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Spec.Decode(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Open(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, isEtcd := st.(*etcdstore.Store)
			_, isFile := st.(state.FileStore)
			if isEtcd != tt.etcd || isFile == tt.etcd {
				t.Fatalf("store = %T", st)
			}
		})
	}
}

func TestFlagsAndEnv(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	copyFlags := Flags(fs)
	if fs.Lookup("etcd-password") != nil {
		t.Error("a password flag would show the password to every user of the host")
	}
	if err := fs.Parse([]string{"--store", "etcd", "--etcd-timeout", "1.5"}); err != nil {
		t.Fatal(err)
	}
	raw, source := map[string]any{}, map[string]string{}
	env := map[string]string{"QOS_GUARD_STORE": "file", "QOS_GUARD_ETCD_ENDPOINTS": "a:1,b:2", "QOS_GUARD_ETCD_PASSWORD": "pw"}
	FromEnv(func(k string) string { return env[k] }, raw, source)
	copyFlags(raw, source)
	if raw["store"] != "etcd" || source["store"] != "--store" || raw["etcd_password"] != "pw" || source["etcd_endpoints"] != "QOS_GUARD_ETCD_ENDPOINTS" {
		t.Fatalf("raw %v, source %v", raw, source)
	}
	if d, err := parseDuration("1.5"); err != nil || d != 1500*time.Millisecond {
		t.Errorf("parseDuration(1.5) = %s, %v", d, err)
	}
}
