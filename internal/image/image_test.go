/*
Copyright 2026 The treue authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package image

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image of the real binary: one layer holding it, run as non-root, with the
// binary as the entrypoint; and the same binary gives the same digest.
func TestBuildTheImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "treue")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/treue-dev/treue")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building treue: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "image.tar")
	digest, err := Build(Options{Binary: bin, Tag: "ghcr.io/treue-dev/treue:test", Version: "test", Out: out})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(Options{Binary: bin, Tag: "ghcr.io/treue-dev/treue:test", Version: "test", Out: filepath.Join(dir, "again.tar")})
	if err != nil || again != digest {
		t.Fatalf("a second build gave %s (%v), the first %s", again, err, digest)
	}

	tag, _ := name.NewTag("ghcr.io/treue-dev/treue:test")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || cf.Config.User != "65532:65532" ||
		len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/treue" || cf.Config.Labels["org.opencontainers.image.version"] != "test" {
		t.Errorf("config: %+v", cf)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	want, _ := os.ReadFile(bin)
	files := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h.Size
		if h.Name == "treue" && (h.Mode != 0o755 || h.Size != int64(len(want))) {
			t.Errorf("treue in the layer: mode %o, %d bytes; want 755 and %d", h.Mode, h.Size, len(want))
		}
	}
	if len(files) != 2 {
		t.Errorf("the layer holds %v; want the binary and /tmp", files)
	}

	// Not an ELF binary: refused with a message that says what to do.
	script := filepath.Join(dir, "script")
	_ = os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	if _, err := Build(Options{Binary: script, Tag: "treue:x", Out: filepath.Join(dir, "x.tar")}); err == nil {
		t.Error("a shell script became an image")
	}
}
