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

package ledger

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned for a write submitted after the ledger closed.
var ErrClosed = errors.New("the ledger is closed")

// job is one write waiting for a batch.
type job struct {
	member   string
	attempt  func(t tx) error
	fallback func(t tx) error
	// fast, when set, lets the committer plan the write with the other fast
	// writes next to it in the batch (batchplan.go); attempt stays its way alone.
	fast *fastWrite
	done chan error
}

// batcher is group commit: a committer goroutine takes every write waiting, runs
// each in a savepoint of one transaction, commits once, and answers them all.
// While a batch commits the next one gathers, so batches grow with the load on
// their own, and an idle ledger commits a lone write at once. There is one
// committer per lane; a member's writes always go to the same lane, so lanes never
// wait for each other's locks. SQLite, with its one writer, has one lane;
// PostgreSQL several, so that its connections work in parallel.
type batcher struct {
	commits atomic.Int64
	// fallbacks counts fast runs whose statements failed and ran write by write.
	fallbacks atomic.Int64
	writes    atomic.Int64
	l         *Ledger
	lanes     []chan *job
	quit      chan struct{}
	stopped   sync.WaitGroup
	done      chan struct{}
	maxBatch  int
	// hold, in tests, makes each committer wait for a value before it takes a
	// batch, so that a test can line a batch up.
	hold chan struct{}
}

func newBatcher(l *Ledger, maxBatch, lanes int, hold chan struct{}) *batcher {
	if maxBatch <= 0 {
		maxBatch = 256
	}
	if lanes <= 0 {
		lanes = 1
	}
	b := &batcher{l: l, quit: make(chan struct{}), done: make(chan struct{}), maxBatch: maxBatch, hold: hold}
	for range lanes {
		lane := make(chan *job, 4*maxBatch)
		b.lanes = append(b.lanes, lane)
		b.stopped.Add(1)
		go b.run(lane)
	}
	go func() { b.stopped.Wait(); close(b.done) }()
	return b
}

// submit queues a write and waits for its batch. A caller that gives up waiting
// may find the write committed; retrying with the same key returns it.
func (b *batcher) submit(ctx context.Context, member string, attempt, fallback func(t tx) error, fast *fastWrite) error {
	j := &job{member: member, attempt: attempt, fallback: fallback, fast: fast, done: make(chan error, 1)}
	h := fnv.New32a()
	_, _ = h.Write([]byte(member))
	lane := b.lanes[int(h.Sum32()%uint32(len(b.lanes)))]
	select {
	case <-b.quit:
		return ErrClosed
	default:
	}
	select {
	case lane <- j:
	case <-b.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-b.done:
		// The committers stopped. The job was committed (its answer is waiting)
		// or it came after the last drain and never ran.
		select {
		case err := <-j.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// close stops taking writes after committing every one submitted before.
func (b *batcher) close() {
	select {
	case <-b.quit:
	default:
		close(b.quit)
	}
	<-b.done
}

func (b *batcher) run(lane chan *job) {
	defer b.stopped.Done()
	for {
		if b.hold != nil {
			select {
			case <-b.hold:
			case <-b.quit:
			}
		}
		var first *job
		select {
		case first = <-lane:
		case <-b.quit:
			for {
				select {
				case j := <-lane:
					b.commit([]*job{j})
				default:
					return
				}
			}
		}
		batch := []*job{first}
	gather:
		for len(batch) < b.maxBatch {
			select {
			case j := <-lane:
				batch = append(batch, j)
			default:
				break gather
			}
		}
		b.commit(batch)
	}
}

// commit runs a batch in one transaction. Writes are ordered by member (stably,
// so one member's writes keep their order), so that batches of two replicas on
// one PostgreSQL lock members in the same order. A batch the database aborts for
// a conflict runs again whole; a write that fails is rolled back to its savepoint
// and fails alone.
func (b *batcher) commit(batch []*job) {
	slices.SortStableFunc(batch, func(x, y *job) int {
		switch {
		case x.member < y.member:
			return -1
		case x.member > y.member:
			return 1
		}
		return 0
	})
	ctx := context.Background()
	errs := make([]error, len(batch))
	outs := make([]fastOutcome, len(batch))
	err := b.l.inTx(ctx, func(t tx) error { return b.runBatch(ctx, t, batch, errs, outs) })
	b.commits.Add(1)
	b.writes.Add(int64(len(batch)))
	for i, j := range batch {
		if err == nil && errs[i] == nil && outs[i].result != nil {
			outs[i].apply(j.fast)
		}
		if err != nil {
			j.done <- err
		} else {
			j.done <- errs[i]
		}
	}
}

// runBatch runs a batch's writes in order: each run of fast writes together
// (batchplan.go), every other write in a savepoint of its own. A fast run whose
// statements fail runs again write by write.
func (b *batcher) runBatch(ctx context.Context, t tx, batch []*job, errs []error, outs []fastOutcome) error {
	broken := func(err error) bool { return isRetryable(err) || errors.Is(err, errBrokenTx) }
	clear(outs)
	for i := 0; i < len(batch); {
		k := i
		for k < len(batch) && batch[k].fast != nil {
			k++
		}
		if k > i {
			err := b.l.commitFast(ctx, t, batch[i:k], outs[i:k])
			if err == nil {
				for m := i; m < k; m++ {
					errs[m] = outs[m].err
				}
				i = k
				continue
			}
			if broken(err) {
				return err
			}
			clear(outs[i:k])
			b.fallbacks.Add(1)
		} else {
			k = i + 1
		}
		for m := i; m < k; m++ {
			errs[m] = runInSavepoint(ctx, t, batch[m])
			if errs[m] != nil && broken(errs[m]) {
				return errs[m]
			}
		}
		i = k
	}
	return nil
}

var errBrokenTx = errors.New("the batch transaction broke")

// runInSavepoint runs one write of a batch on its own. After a unique violation
// another writer has committed the same key: its stored answer is the answer.
func runInSavepoint(ctx context.Context, t tx, j *job) error {
	return savepoint(ctx, t, "write", func() error { return j.attempt(t) }, func() error { return j.fallback(t) })
}

// savepoint runs fn in a savepoint of the batch's transaction, so that what it
// wrote is rolled back when it fails and it fails alone; onUnique, when fn failed
// with a unique violation, runs in its place after that rollback. A retryable
// error is returned as it is, for the whole batch to run again; a savepoint that
// cannot be set, rolled back or released breaks the transaction (errBrokenTx).
func savepoint(ctx context.Context, t tx, name string, fn, onUnique func() error) error {
	if _, err := t.exec(ctx, "SAVEPOINT "+name); err != nil {
		return errors.Join(errBrokenTx, err)
	}
	rollback := func() error {
		if _, err := t.exec(ctx, "ROLLBACK TO SAVEPOINT "+name); err != nil {
			return errors.Join(errBrokenTx, err)
		}
		return nil
	}
	err := fn()
	if err != nil && onUnique != nil && isUniqueViolation(err) {
		if rbErr := rollback(); rbErr != nil {
			return rbErr
		}
		err = onUnique()
	}
	if err != nil {
		if isRetryable(err) {
			return err
		}
		if rbErr := rollback(); rbErr != nil {
			return rbErr
		}
	}
	if _, relErr := t.exec(ctx, "RELEASE SAVEPOINT "+name); relErr != nil {
		return errors.Join(errBrokenTx, relErr)
	}
	return err
}

// CommitStats counts group commits: transactions committed and writes in them.
type CommitStats struct {
	Commits, Writes int64
}

// CommitStats says how well group commit batches; zero without it.
func (l *Ledger) CommitStats() CommitStats {
	if l.batch == nil {
		return CommitStats{}
	}
	return CommitStats{Commits: l.batch.commits.Load(), Writes: l.batch.writes.Load()}
}
