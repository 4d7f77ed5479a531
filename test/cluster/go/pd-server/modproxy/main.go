// Command pd-modproxy writes module versions into a directory laid out as a GOPROXY (file://), taking
// each module's files from a local git repository at a given commit. It exists because the Go module
// proxy reachable from some machines answers 403 for github.com/tikv/pd and a few of its
// dependencies; the module zips are made with golang.org/x/mod/zip from `git archive`, the same way
// the public proxy makes them, so their go.sum hashes are the public ones.
//
// Input (stdin): a JSON array of {"path","version","repo","rev","subdir"}.
// Usage: pd-modproxy -out DIR < specs.json
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

type spec struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Repo    string `json:"repo"`
	Rev     string `json:"rev"`
	Subdir  string `json:"subdir"`
}

func main() {
	out := flag.String("out", "", "GOPROXY directory to write into")
	flag.Parse()
	if *out == "" {
		fail("-out is required")
	}
	var specs []spec
	if err := json.NewDecoder(os.Stdin).Decode(&specs); err != nil {
		fail("reading specs from stdin: %v", err)
	}
	for _, s := range specs {
		if err := write(*out, s); err != nil {
			fail("%s@%s: %v", s.Path, s.Version, err)
		}
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pd-modproxy: "+format+"\n", args...)
	os.Exit(1)
}

func git(repo string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return b, nil
}

func write(out string, s spec) error {
	mv := module.Version{Path: s.Path, Version: s.Version}
	if err := module.Check(mv.Path, mv.Version); err != nil {
		return err
	}
	full, err := git(s.Repo, "rev-parse", "--verify", s.Rev+"^{commit}")
	if err != nil {
		return err
	}
	commit := strings.TrimSpace(string(full))
	ctOut, err := git(s.Repo, "log", "-1", "--format=%ct", commit)
	if err != nil {
		return err
	}
	ct, err := strconv.ParseInt(strings.TrimSpace(string(ctOut)), 10, 64)
	if err != nil {
		return err
	}
	when := time.Unix(ct, 0).UTC()
	// A pseudo-version must name this very commit and its UTC commit time.
	if module.IsPseudoVersion(mv.Version) {
		rev, _ := module.PseudoVersionRev(mv.Version)
		pt, _ := module.PseudoVersionTime(mv.Version)
		if !strings.HasPrefix(commit, rev) || !pt.Equal(when) {
			return fmt.Errorf("pseudo-version does not match commit %s at %s", commit, when.Format(time.RFC3339))
		}
	}
	goModPath := "go.mod"
	if s.Subdir != "" {
		goModPath = s.Subdir + "/go.mod"
	}
	gomod, err := git(s.Repo, "show", commit+":"+goModPath)
	if err != nil {
		return err
	}
	esc, err := module.EscapePath(mv.Path)
	if err != nil {
		return err
	}
	escV, err := module.EscapeVersion(mv.Version)
	if err != nil {
		return err
	}
	dir := filepath.Join(out, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, escV)

	// x/mod/zip wants a work tree root whose .git is the git directory; a bare repository (a mirror)
	// gets a stand-in directory with a .git symlink to it.
	root := s.Repo
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		tmp, err := os.MkdirTemp("", "pd-modproxy-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		abs, err := filepath.Abs(s.Repo)
		if err != nil {
			return err
		}
		if err := os.Symlink(abs, filepath.Join(tmp, ".git")); err != nil {
			return err
		}
		root = tmp
	}
	var zbuf bytes.Buffer
	if err := modzip.CreateFromVCS(&zbuf, mv, root, commit, s.Subdir); err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	info, _ := json.Marshal(map[string]any{"Version": mv.Version, "Time": when.Format(time.RFC3339)})
	for _, f := range []struct {
		name string
		data []byte
	}{{base + ".mod", gomod}, {base + ".zip", zbuf.Bytes()}, {base + ".info", info}} {
		if err := atomicWrite(f.name, f.data); err != nil {
			return err
		}
	}
	listFile := filepath.Join(dir, "list")
	old, _ := os.ReadFile(listFile)
	versions := strings.Fields(string(old))
	if !slices.Contains(versions, mv.Version) {
		versions = append(versions, mv.Version)
	}
	if err := atomicWrite(listFile, []byte(strings.Join(versions, "\n")+"\n")); err != nil {
		return err
	}
	fmt.Printf("%s@%s from %s (%d KB)\n", mv.Path, mv.Version, commit[:12], zbuf.Len()/1024)
	return nil
}

func atomicWrite(name string, data []byte) error {
	tmp := fmt.Sprintf("%s.tmp-%d", name, os.Getpid())
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
