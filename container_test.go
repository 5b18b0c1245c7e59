package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/accountpw/accountpw/services/config"
)

// TestComposeConfiguresAValidService reads compose.yaml as the container
// would get it: every variable it sets must be one the service knows (an
// unknown one stops it at start), and together they must make a
// configuration that passes Validate on PostgreSQL. docker compose itself
// is not on every machine that runs the tests, so this is the check that
// always runs.
func TestComposeConfiguresAValidService(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       string            `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	svc, db := compose.Services["accountpw"], compose.Services["db"]
	if svc.Build != "." || !regexp.MustCompile(`^postgres:1[67]$`).MatchString(db.Image) || len(db.Volumes) == 0 || len(compose.Volumes) == 0 {
		t.Errorf("want the service built from here and postgres:17 (or 16) on a named volume, got %+v", compose)
	}
	for name, s := range map[string][]string{"accountpw": svc.Healthcheck.Test, "db": db.Healthcheck.Test} {
		if len(s) == 0 {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	if !slices.Equal(svc.Healthcheck.Test, []string{"CMD", "/app/accountpw", "healthcheck"}) {
		t.Errorf("the service's healthcheck is %v, want the binary's own", svc.Healthcheck.Test)
	}

	known := map[string]bool{}
	for _, v := range config.Variables() {
		known[v.Name] = true
	}
	var environ []string
	for name, value := range svc.Environment {
		if !known[name] {
			t.Errorf("compose.yaml sets %s, which the service does not know", name)
		}
		// ${NAME:?message} is filled in by whoever runs compose.
		if strings.HasPrefix(value, "${"+name+":?") {
			value = strings.Repeat("k", config.MinJWTSecretBytes)
		}
		environ = append(environ, name+"="+value)
	}
	cfg, err := config.Load("config.yaml", true, environ)
	if err != nil {
		t.Fatalf("the service's configuration in compose.yaml does not load: %v", err)
	}
	if !cfg.Database.Postgres() {
		t.Error("compose.yaml must run the service on PostgreSQL")
	}
}

// TestContainerFiles pins what the image relies on: it checks itself, keeps
// its data on a volume, runs as nonroot, and the build context leaves local
// state out.
func TestContainerFiles(t *testing.T) {
	for file, wants := range map[string][]string{
		"Dockerfile": {"FROM gcr.io/distroless/static-debian12:nonroot", "USER nonroot:nonroot", "VOLUME /app/data",
			`CMD ["/app/accountpw", "healthcheck"]`, "HEALTHCHECK --interval="},
		".dockerignore": {"\n.git\n", "\ndata/\n", "\nnode_modules\n", "\n**/node_modules\n", "\n.ci/artifacts\n",
			"\n/accountpw\n", "\n*.test\n", "\n*.swp\n"},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", file, w)
			}
		}
	}
}
