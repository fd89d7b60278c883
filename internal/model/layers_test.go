package model_test

import (
	"bytes"
	"go/build"
	"io/fs"
	"os"
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
// commands (api, admin, web, cli) see the domain through model, dcv,
// accounts and app, never through the store that keeps it
// (docs/architecture.md).
func TestParsersDoNotReachTheStore(t *testing.T) {
	for _, dir := range []string{"api", "admin", "web", "cli", "clientcmd"} {
		if slices.Contains(imports(t, dir), module+"internal/store") {
			t.Errorf("package %s imports internal/store; go through model, dcv, accounts or app", dir)
		}
	}
}

// TestDecidersAreGivenTheStore: the packages that decide take the store as
// an interface of package model, so that neither they nor the API above
// them depend on it at all (what go list -deps shows). cli and admin do,
// through app, the assembly that opens it.
func TestDecidersAreGivenTheStore(t *testing.T) {
	for _, top := range []string{"api", "web", "dcv", "accounts", "faults", "mail"} {
		seen := map[string]bool{}
		var walk func(dir string, path []string)
		walk = func(dir string, path []string) {
			for _, imp := range imports(t, dir) {
				if !strings.HasPrefix(imp, module+"internal/") || seen[imp] {
					continue
				}
				seen[imp] = true
				sub := strings.TrimPrefix(imp, module+"internal/")
				if sub == "store" {
					t.Errorf("package %s depends on internal/store: %s → store", top, strings.Join(append(path, dir), " → "))
					continue
				}
				walk(sub, append(path, dir))
			}
		}
		walk(top, nil)
	}
}

// TestProductWritesThroughTransactions: outside the store, the product's
// code writes through store.Tx or the few writes that stand alone
// (internal/store/standalone.go), never through Store.Direct, which is for
// tests and tools that set data up.
func TestProductWritesThroughTransactions(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "store" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(src, []byte(".Direct()")) {
			t.Errorf("%s calls Store.Direct: write through store.Tx, or add a write that stands alone to internal/store/standalone.go", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
