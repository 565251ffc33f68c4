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

// Command till is a partner's till in the end-to-end suite: run as a pod in the
// partner's own namespace with the partner's credentials Secret mounted, it
// enrolls a member and reports a purchase at the endpoint the Secret names, with
// the key it holds, then tries a wrong key. It prints one line per call (the
// step, the status code and the answer) and exits 1 when a call does not answer
// as a partner's till expects: 200, 200, 401.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: till CREDENTIALS-DIR MEMBER")
		os.Exit(2)
	}
	dir, member := os.Args[1], os.Args[2]
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			fmt.Fprintln(os.Stderr, "till:", err)
			os.Exit(2)
		}
		return strings.TrimSpace(string(b))
	}
	key, endpoint := read("apiKey"), read("endpoint")
	ok := true
	for _, c := range []struct {
		step, path, key, body string
		want                  int
	}{
		{"enroll", "/v1/members", key, `{"member":"` + member + `"}`, http.StatusOK},
		{"earn", "/v1/earn", key, `{"member":"` + member + `","amount":2000,"currency":"EUR"}`, http.StatusOK},
		{"wrong-key", "/v1/earn", "tk_not-a-key", `{"member":"` + member + `","amount":2000,"currency":"EUR"}`, http.StatusUnauthorized},
	} {
		status, answer := post(endpoint+c.path, c.key, c.step+"-"+member, c.body)
		fmt.Printf("%s %d %s\n", c.step, status, answer)
		ok = ok && status == c.want
	}
	if !ok {
		os.Exit(1)
	}
}

// post sends one write, retrying with the same idempotency key while the
// service cannot be reached (its pod may still be starting), as a till does.
func post(url, key, idem, body string) (int, string) {
	client := &http.Client{Timeout: 10 * time.Second}
	var last error
	for range 30 {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
		if err != nil {
			return 0, err.Error()
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idem)
		res, err := client.Do(req)
		if err == nil && res.StatusCode < 500 {
			b, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			return res.StatusCode, strings.TrimSpace(string(b))
		}
		if err == nil {
			_ = res.Body.Close()
			err = fmt.Errorf("status %d", res.StatusCode)
		}
		last = err
		time.Sleep(time.Second)
	}
	return 0, last.Error()
}
