package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeCurlWalk runs the README's "Testing your integration" walk, as
// printed, with bash and curl against `serve --demo`: the documented
// commands work, and each `# data-state=...` line under a command is what
// the page answered.
func TestReadmeCurlWalk(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := readmeBlock(t, string(readme), "**From any language**")

	d := startDcvmail(t, t.TempDir(), "--demo", "--admin-listen", "127.0.0.1:0")
	admin := d.Admin
	script := strings.NewReplacer(
		"https://127.0.0.1:8443", d.URL,
		"http://127.0.0.1:8025", "http://"+admin,
	).Replace(block)

	cmd := exec.Command("bash", "-o", "pipefail", "-c", "set -e\n"+script)
	cmd.Env = append(os.Environ(), "CURL_CA_BUNDLE="+filepath.Join(d.Data, "tls-cert.pem"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's walk failed: %v\n%s", err, out)
	}
	want := regexp.MustCompile(`(?m)^# (data-state="[a-z]+")$`).FindAllStringSubmatch(block, -1)
	got := regexp.MustCompile(`data-state="[a-z]+"`).FindAllString(string(out), -1)
	if len(want) < 2 || len(got) != len(want) {
		t.Fatalf("page states %q, the README says %q\n%s", got, want, out)
	}
	for i := range want {
		if got[i] != want[i][1] {
			t.Errorf("page state %d: %s, the README says %s", i+1, got[i], want[i][1])
		}
	}
	if !strings.Contains(string(out), "no answer") {
		t.Errorf("the after-phase fault did not drop the answer:\n%s", out)
	}
}

// readmeBlock returns the first ```sh block after the marker.
func readmeBlock(t *testing.T, readme, marker string) string {
	t.Helper()
	i := strings.Index(readme, marker)
	if i < 0 {
		t.Fatalf("README has no %q", marker)
	}
	rest := readme[i:]
	start := strings.Index(rest, "```sh\n")
	if start < 0 {
		t.Fatalf("no sh block after %q", marker)
	}
	rest = rest[start+len("```sh\n"):]
	end := strings.Index(rest, "```")
	if end < 0 {
		t.Fatal("unterminated block")
	}
	return rest[:end]
}
