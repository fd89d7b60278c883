package model_test

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/dcvmail/dcvmail/"

// imports lists what the package in internal/<dir> imports, its tests left
// out.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	pkg, err := build.ImportDir(filepath.Join("..", dir), 0)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return pkg.Imports
}

// TestModelIsALeaf: the model imports nothing of dcvmail, so that every
// package may use it.
func TestModelIsALeaf(t *testing.T) {
	for _, imp := range imports(t, "model") {
		if strings.HasPrefix(imp, module) {
			t.Errorf("package model imports %s", imp)
		}
	}
}

// TestParsersDoNotReachTheStore: the packages that parse requests and
// commands (api, web, cli) see the domain through model, dcv, accounts and
// app, never through the store that keeps it (docs/architecture.md).
func TestParsersDoNotReachTheStore(t *testing.T) {
	for _, dir := range []string{"api", "web", "cli", "clientcmd"} {
		if slices.Contains(imports(t, dir), module+"internal/store") {
			t.Errorf("package %s imports internal/store; go through model, dcv, accounts or app", dir)
		}
	}
}
