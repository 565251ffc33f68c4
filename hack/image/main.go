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

// Command image writes the treue image as a tarball, without a container
// engine: `make image`. Import it with `ctr -n k8s.io images import` or
// `docker load`.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/treue-dev/treue/internal/image"
)

func main() {
	var o image.Options
	flag.StringVar(&o.Binary, "binary", "bin/linux-amd64/treue", "The static linux/amd64 treue binary.")
	flag.StringVar(&o.Tag, "tag", "", "The image's name and tag, such as ghcr.io/treue-dev/treue:v0.1.0.")
	flag.StringVar(&o.Version, "version", "dev", "The version for the image's labels.")
	flag.StringVar(&o.Out, "out", "bin/treue-image.tar", "The tarball to write.")
	flag.StringVar(&o.Path, "path", "/treue", "Where the binary goes in the image; it is the entrypoint.")
	flag.Parse()
	if o.Tag == "" {
		fmt.Fprintln(os.Stderr, "image: give --tag")
		os.Exit(2)
	}
	digest, err := image.Build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("%s %s\n%s\n", o.Tag, digest, o.Out)
}
