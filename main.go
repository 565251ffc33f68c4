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

// Command treue is the one binary of the treue operator: the controller manager,
// the point-accrual service of one program, and the settlement job.
package main

// The image has no operating system, so no /usr/share/zoneinfo: programs and
// cooperations name IANA time zones, and the binary carries the database.
import (
	"fmt"
	"io"
	"os"
	_ "time/tzdata"

	"github.com/treue-dev/treue/internal/version"
)

// Exit codes follow the usual convention: 2 means the command line was wrong (or
// asks for something this build cannot do), 1 that the command itself failed.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const usage = `Usage: treue [command] [flags]

Commands:
  manager   run the controller manager (the default)
  accrual   run the point-accrual service of one program
  settle    run one settlement of a cooperation and period
  version   print the version

Run "treue <command> -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "manager"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "manager":
		return runManager(args, stderr)
	case "accrual":
		return runAccrual(args, stderr)
	case "settle":
		return runSettle(args, stdout, stderr)
	case "version":
		_, _ = fmt.Fprintln(stdout, version.Version)
		return exitOK
	case "help", "-h", "--help":
		_, _ = fmt.Fprint(stdout, usage)
		return exitOK
	default:
		_, _ = fmt.Fprintf(stderr, "treue: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}
