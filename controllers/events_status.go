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

package controllers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
)

// SinkService reads where a program's event sinks stand from its service,
// and sends a sink's parked dead events again.
type SinkService interface {
	ReadSinks(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram) (accrualapi.SinksStatus, error)
	ReplayDead(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram, sink string) (int64, error)
}

// httpSinks reads GET /v1/events/sinks with the program's admin token.
type httpSinks struct {
	c    client.Client
	http *http.Client
}

func (h httpSinks) ReadSinks(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram) (accrualapi.SinksStatus, error) {
	api, err := programAPI(ctx, h.c, h.http, program, adminTokenKey)
	if err != nil {
		return accrualapi.SinksStatus{}, err
	}
	return api.Sinks(ctx)
}

func (h httpSinks) ReplayDead(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram, sink string) (int64, error) {
	api, err := programAPI(ctx, h.c, h.http, program, adminTokenKey)
	if err != nil {
		return 0, err
	}
	res, err := api.ReplayDead(ctx, sink, nil)
	return res.Replayed, err
}

// replayRequested is the value of the replay annotation when it asks for a
// replay not handled yet (handled is the status's), else "".
func replayRequested(obj metav1.Object, handled string) string {
	if want := obj.GetAnnotations()[loyaltyv1alpha1.AnnotationReplayEvents]; want != handled {
		return want
	}
	return ""
}

// replayDead sends the parked dead events of the sinks that run in a program
// again, and forgets the program's sink report so that the figures are read
// afresh. It returns how many went out again.
func (s *sinkReports) replayDead(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram, sinks []declaredSink,
	problems map[string]string) (int64, []string, error) {
	var total int64
	var names []string
	for _, d := range sinks {
		if _, broken := problems[d.name]; broken {
			continue // not running: nothing of it is parked in the service under this configuration
		}
		n, err := s.reader.ReplayDead(ctx, program, d.name)
		if err != nil {
			return total, names, fmt.Errorf("replaying the dead events of sink %s in %s/%s: %w", d.name, program.Namespace, program.Name, err)
		}
		total += n
		names = append(names, d.sink.Name)
	}
	s.mu.Lock()
	delete(s.last, client.ObjectKeyFromObject(program))
	s.mu.Unlock()
	return total, names, nil
}

// programAPI is a client of a program's service with one of its tokens (the
// key of its tokens Secret).
func programAPI(ctx context.Context, c client.Client, httpc *http.Client, program *loyaltyv1alpha1.LoyaltyProgram, tokenKey string) (
	*accrualapi.Client, error) {
	if program.Status.Endpoint == "" {
		return nil, fmt.Errorf("program %s/%s has no endpoint yet", program.Namespace, program.Name)
	}
	secret := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: program.Namespace, Name: tokensSecretName(program.Name)}, secret); err != nil {
		return nil, err
	}
	return &accrualapi.Client{Endpoint: program.Status.Endpoint, Token: string(secret.Data[tokenKey]), HTTP: httpc}, nil
}

// defaultSinkReportInterval is the least time between two reads of a
// program's sinks: the program's and its partners' reconciles share each read.
const defaultSinkReportInterval = time.Minute

// sinkReports caches each program's latest sink report, so that the program
// and every partner of it reconcile from one read per interval.
type sinkReports struct {
	reader   SinkService
	interval time.Duration
	mu       sync.Mutex
	last     map[client.ObjectKey]sinkReport
}

type sinkReport struct {
	at     time.Time
	status *accrualapi.SinksStatus
}

func newSinkReports(reader SinkService, interval time.Duration) *sinkReports {
	if interval <= 0 {
		interval = defaultSinkReportInterval
	}
	return &sinkReports{reader: reader, interval: interval, last: map[client.ObjectKey]sinkReport{}}
}

// get returns the program's latest report, read again when it is older than
// the interval; nil when the service could not be asked.
func (s *sinkReports) get(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram, now time.Time) *accrualapi.SinksStatus {
	key := client.ObjectKeyFromObject(program)
	s.mu.Lock()
	r, ok := s.last[key]
	s.mu.Unlock()
	if ok && now.Sub(r.at) < s.interval {
		return r.status
	}
	st, err := s.reader.ReadSinks(ctx, program)
	r = sinkReport{at: now}
	if err == nil {
		r.status = &st
	}
	s.mu.Lock()
	s.last[key] = r
	s.mu.Unlock()
	return r.status
}

// readSigningKeys reads the Secrets the sinks name (webhooks' signing secrets,
// NATS credentials), past the cache: the user owns them and does not label
// them.
func readSigningKeys(ctx context.Context, reader client.Reader, sinks []declaredSink) (map[string]signingKeys, error) {
	keys := map[string]signingKeys{}
	for _, d := range sinks {
		sref := secretRefOf(d.sink)
		if sref == nil {
			continue
		}
		ref := loyaltyv1alpha1.ObjectKey(d.namespace, sref.Name)
		if _, done := keys[ref]; done {
			continue
		}
		secret := &corev1.Secret{}
		err := reader.Get(ctx, client.ObjectKey{Namespace: d.namespace, Name: sref.Name}, secret)
		var data map[string][]byte
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("reading the Secret %s of sink %s: %w", ref, d.sink.Name, err)
		default:
			data = secret.Data
			if data == nil {
				data = map[string][]byte{}
			}
		}
		if d.sink.NATS != nil {
			keys[ref] = natsCredentialsOf(d.namespace, sref.Name, data)
		} else {
			keys[ref] = signingKeysOf(d.namespace, sref.Name, data)
		}
	}
	return keys, nil
}
