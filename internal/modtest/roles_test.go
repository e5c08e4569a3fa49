package modtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// TestRoleDefaultsMatchArgumentSpecs checks every role: each default in defaults/main.yml is an
// option of meta/argument_specs.yml with the same default, and the other way round.
func TestRoleDefaultsMatchArgumentSpecs(t *testing.T) {
	roles, err := filepath.Glob("../../roles/*")
	if err != nil || len(roles) == 0 {
		t.Fatalf("no roles found: %v", err)
	}
	for _, role := range roles {
		t.Run(filepath.Base(role), func(t *testing.T) {
			var defaults map[string]any
			readYAML(t, filepath.Join(role, "defaults", "main.yml"), &defaults)
			var specs struct {
				ArgumentSpecs map[string]struct {
					Options map[string]struct {
						Default any `yaml:"default"`
					} `yaml:"options"`
				} `yaml:"argument_specs"`
			}
			readYAML(t, filepath.Join(role, "meta", "argument_specs.yml"), &specs)
			main, ok := specs.ArgumentSpecs["main"]
			if !ok {
				t.Fatal("meta/argument_specs.yml has no main entry point")
			}
			specDefaults := map[string]any{}
			for name, o := range main.Options {
				specDefaults[name] = o.Default
			}
			if diff := cmp.Diff(defaults, specDefaults); diff != "" {
				t.Errorf("defaults/main.yml and meta/argument_specs.yml differ (-defaults +specs):\n%s", diff)
			}
		})
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
