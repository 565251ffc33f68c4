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

// Package image builds treue's container image without a container engine: the
// static binary as the one layer of an empty base, run as a non-root user, with
// `treue` as the entrypoint, written as a `docker save` style tarball that
// `ctr images import` and `docker load` both read. The build is reproducible:
// the same binary gives the same image digest.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the uid and gid the image runs as: nobody's conventional non-root id
// in distroless images, and the one the operator's pod specs require.
const User = "65532:65532"

// Entrypoint is where the binary sits in the image.
const Entrypoint = "/treue"

// Options describe the image.
type Options struct {
	// Binary is the static linux/amd64 treue binary.
	Binary string
	// Tag names the image, such as ghcr.io/treue-dev/treue:v0.1.0.
	Tag string
	// Version goes into the OCI version label.
	Version string
	// Out is the tarball to write.
	Out string
	// Path is where the binary goes and the entrypoint; default /treue. Other
	// single-binary images (the local cluster's pause and CoreDNS) set their own.
	Path string
	// Args are the entrypoint's default arguments.
	Args []string
}

// Build writes the image tarball and returns the image's digest.
func Build(o Options) (v1.Hash, error) {
	tag, err := name.NewTag(o.Tag)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image tag %q: %w", o.Tag, err)
	}
	path := o.Path
	if path == "" {
		path = Entrypoint
	}
	img, err := imageAt(o.Binary, o.Version, path, o.Args)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := tarball.WriteToFile(o.Out, tag, img); err != nil {
		return v1.Hash{}, fmt.Errorf("writing %s: %w", o.Out, err)
	}
	return img.Digest()
}

// Image is the treue image of a binary.
func Image(binary, version string) (v1.Image, error) {
	return imageAt(binary, version, Entrypoint, nil)
}

func imageAt(binary, version, path string, args []string) (v1.Image, error) {
	if !strings.HasPrefix(path, "/") || strings.Count(path, "/") != 1 {
		return nil, fmt.Errorf("the binary's path %q must be a file in /", path)
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("reading the binary: %w", err)
	}
	if len(bin) < 4 || string(bin[:4]) != "\x7fELF" {
		return nil, fmt.Errorf("%s is not a Linux (ELF) binary; build it with GOOS=linux CGO_ENABLED=0", binary)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar(bin, path[1:]))), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = []string{path}
	cf.Config.Cmd = args
	cf.Config.User = User
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"PATH=/"}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   path[1:],
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.source":  "https://github.com/treue-dev/treue",
	}
	return mutate.ConfigFile(img, cf)
}

// layerTar is the one layer: the binary, and /tmp for the Go runtime and
// libraries that want one (pods mount an emptyDir over it; the root filesystem is
// read-only).
func layerTar(bin []byte, file string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	_ = tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch, Format: tar.FormatPAX})
	_ = tw.WriteHeader(&tar.Header{Name: file, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin)), ModTime: epoch,
		Format: tar.FormatPAX})
	_, _ = tw.Write(bin)
	_ = tw.Close()
	return buf.Bytes()
}
