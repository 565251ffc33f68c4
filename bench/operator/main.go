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

// Command operator measures how the operator scales, against the envtest control
// plane: N programs, each with 3 partners, are created and timed until every
// program has observed its generation, counts its 3 partners and has its
// workload. In the same run, on a fresh control plane, a plain client creates
// the very objects the operator ends with, built by the controllers' own
// functions (controllers.NetworkObjects): the floor. It prints both times and their
// ratio, the manager's peak RSS, the CPU time it used until settled, and the write
// requests it makes during an idle period after settling. `make bench-operator`.
// Both times move by up to a third from run to run on a shared two-core machine
// (the floor's identical creates of 1,000 networks took 27 to 39 s in one hour), so
// each size runs several rounds, floor and operator alternating, and the ratio
// reported is their median; the idle period is counted in the last round. Beside
// the times it prints the CPU that kube-apiserver and etcd used in each phase:
// the work each side cost the control plane, which moves less than time does.
//
// Diagnostics: BENCH_KEEP=1 keeps the manager's log and prints its request
// counters; BENCH_AUDIT_DIR=dir writes the API server's audit log of every write
// (with the bodies of program status patches) there; BENCH_PROFILE=file saves a
// 30-second CPU profile of the manager taken while it settles, and
// BENCH_APISERVER_PROFILE=file one of the API server (BENCH_APISERVER_PROFILE_FLOOR
// while the floor runs).
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/bench/internal/load"
	"github.com/treue-dev/treue/controllers"
)

// accrualImage is the accrual services' image in both phases (no pod runs).
const accrualImage = "bench"

type options struct {
	programs   []int
	rounds     int
	workers    int
	idle       time.Duration
	reconciles int
	treue      string
	crds       string
}

func main() {
	var o options
	var sizes string
	flag.StringVar(&sizes, "programs", "100,1000", "Numbers of programs to measure, each with 3 partners.")
	flag.IntVar(&o.rounds, "rounds", 3, "Rounds per size, floor and operator alternating; the ratio reported is their median.")
	flag.IntVar(&o.workers, "workers", 8, "Concurrent clients creating objects.")
	flag.IntVar(&o.reconciles, "max-concurrent-reconciles", 0, "The manager's --max-concurrent-reconciles; 0 leaves its default.")
	flag.DurationVar(&o.idle, "idle", time.Minute, "How long to count the manager's writes after settling.")
	flag.StringVar(&o.treue, "treue", "bin/treue", "The treue binary whose manager is measured.")
	flag.StringVar(&o.crds, "crds", "config/crd/bases", "The CRDs.")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench-operator: -programs %q: want numbers such as 100,1000\n", sizes)
			os.Exit(2)
		}
		o.programs = append(o.programs, n)
	}
	if o.rounds < 1 {
		fmt.Fprintf(os.Stderr, "bench-operator: -rounds %d: want 1 or more\n", o.rounds)
		os.Exit(2)
	}
	// envtest logs through controller-runtime; nothing of it belongs in the
	// figures (unset, it warns with a stack trace after 30 s).
	ctrllog.SetLogger(logr.Discard())
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "bench-operator: %v\n", err)
		os.Exit(1)
	}
}

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(loyaltyv1alpha1.AddToScheme(s))
	return s
}()

func run(o options) error {
	fmt.Printf("operator scale: programs with 3 partners each, %d creating clients, rounds per size: %d (floor and operator alternating), "+
		"idle period %s in the last round\n\n", o.workers, o.rounds, o.idle)
	fmt.Printf("%9s %7s %10s %10s %7s %23s %12s %12s %15s %12s\n", "programs", "round", "floor", "operator", "ratio",
		"API server+etcd CPU", "manager RSS", "manager CPU", "manager writes", "idle writes")
	for _, n := range o.programs {
		var ratios, cpuRatios []float64
		for r := 1; r <= o.rounds; r++ {
			floor, floorCPU, err := measureFloor(o, n)
			if err != nil {
				return fmt.Errorf("floor for %d programs: %w", n, err)
			}
			idle := time.Duration(0)
			if r == o.rounds {
				idle = o.idle
			}
			op, err := measureOperator(o, n, idle)
			if err != nil {
				return fmt.Errorf("operator for %d programs: %w", n, err)
			}
			ratio := op.took.Seconds() / floor.Seconds()
			ratios = append(ratios, ratio)
			cpuRatios = append(cpuRatios, op.controlPlane.Seconds()/floorCPU.Seconds())
			writes := "-"
			if idle > 0 {
				writes = strconv.FormatInt(op.idleWrites, 10)
			}
			fmt.Printf("%9d %7d %10s %10s %7.2f %7s %7s %7.2f %8d MiB %12s %15d %12s\n", n, r, floor.Round(time.Millisecond),
				op.took.Round(time.Millisecond), ratio, floorCPU.Round(100*time.Millisecond), op.controlPlane.Round(100*time.Millisecond),
				op.controlPlane.Seconds()/floorCPU.Seconds(), op.peakRSS>>20, op.settleCPU.Round(10*time.Millisecond), op.settleWrites, writes)
		}
		slices.Sort(ratios)
		slices.Sort(cpuRatios)
		fmt.Printf("%9d %7s %10s %10s %7.2f %15s %7.2f   (time ratio lowest %.2f, highest %.2f)\n", n, "median", "", "",
			median(ratios), "", median(cpuRatios), ratios[0], ratios[len(ratios)-1])
	}
	return nil
}

// median of sorted values.
func median(sorted []float64) float64 {
	m := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[m]
	}
	return (sorted[m-1] + sorted[m]) / 2
}

func startControlPlane(o options) (*envtest.Environment, client.Client, error) {
	env := &envtest.Environment{CRDDirectoryPaths: []string{o.crds}, ErrorIfCRDPathMissing: true}
	// envtest's default service range holds 254 Services; a cluster's holds
	// thousands, and so must this one for 1,000 programs.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	if dir := os.Getenv("BENCH_AUDIT_DIR"); dir != "" {
		// Diagnostics: an audit log of every write, to tell what the manager writes.
		policy := filepath.Join(dir, "audit-policy.yaml")
		_ = os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"+
			"- level: Request\n  verbs: [patch]\n  resources: [{group: loyalty.treue.dev, resources: [loyaltyprograms/status]}]\n"+
			"- level: Metadata\n  verbs: [create, update, patch, delete]\n- level: None\n"), 0o600)
		env.ControlPlane.GetAPIServer().Configure().
			Set("audit-policy-file", policy).
			Set("audit-log-path", filepath.Join(dir, "audit.log"))
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	return env, c, nil
}

// network is what the bench creates for program i: its namespace, the program
// and its three partners.
func network(i int) (*corev1.Namespace, *loyaltyv1alpha1.LoyaltyProgram, []*loyaltyv1alpha1.Partner) {
	ns := fmt.Sprintf("net-%04d", i)
	program := &loyaltyv1alpha1.LoyaltyProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "program", Namespace: ns},
		Spec: loyaltyv1alpha1.LoyaltyProgramSpec{
			DisplayName: "Program", Currency: "EUR",
			Earning:    loyaltyv1alpha1.EarningRules{BaseRate: loyaltyv1alpha1.EarnRate{Points: 1, Per: "2.00"}},
			Redemption: loyaltyv1alpha1.RedemptionRules{PointValue: "0.01"},
		},
	}
	partners := make([]*loyaltyv1alpha1.Partner, 0, 3)
	for j := range 3 {
		partners = append(partners, &loyaltyv1alpha1.Partner{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("partner-%d", j), Namespace: ns},
			Spec: loyaltyv1alpha1.PartnerSpec{DisplayName: "Partner",
				ProgramRefs: []loyaltyv1alpha1.NamespacedReference{{Name: "program"}}},
		})
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, program, partners
}

// measureFloor creates, with a plain client, what the operator's run ends with:
// the namespace, program and partners, and then the very objects the
// controllers create for them (controllers.NetworkObjects: the partners'
// credentials, the program's token and key-hash Secrets, ServiceAccount,
// ConfigMap, Service, NetworkPolicy and StatefulSet, built by the controllers'
// own functions, owner references and all).
func measureFloor(o options, n int) (took, controlPlane time.Duration, err error) {
	env, c, err := startControlPlane(o)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = env.Stop() }()
	ctx := context.Background()
	cpuBefore, err := controlPlaneCPU()
	if err != nil {
		return 0, 0, err
	}
	if err := profileAPIServer(env.Config, os.Getenv("BENCH_APISERVER_PROFILE_FLOOR")); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	err = load.Parallel(o.workers, n, func(i int) error {
		ns, program, partners := network(i)
		for _, obj := range []client.Object{ns, program} {
			if err := c.Create(ctx, obj); err != nil {
				return err
			}
		}
		stored := make([]loyaltyv1alpha1.Partner, 0, len(partners))
		for _, p := range partners {
			if err := c.Create(ctx, p); err != nil {
				return err
			}
			stored = append(stored, *p)
		}
		objs, err := controllers.NetworkObjects(scheme, program, stored, accrualImage, "") // the manager runs outside the cluster
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if err := c.Create(ctx, obj, client.FieldOwner(controllers.FieldOwner)); err != nil {
				return err
			}
		}
		return nil
	})
	took = time.Since(start)
	if err != nil {
		return 0, 0, err
	}
	cpuAfter, err := controlPlaneCPU()
	return took, cpuAfter - cpuBefore, err
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// startManager runs the treue manager against the control plane kubeconfig
// reaches, logging to a file; stop kills it and removes its files (unless
// BENCH_KEEP is set).
func startManager(o options, kubeconfig []byte, pprof bool) (mgr *exec.Cmd, metricsAddr string, logs *os.File, stop func(), err error) {
	dir, err := os.MkdirTemp("", "bench-operator-")
	if err != nil {
		return nil, "", nil, nil, err
	}
	cleanup := func() {
		if logs != nil {
			_ = logs.Close()
		}
		if os.Getenv("BENCH_KEEP") == "" {
			_ = os.RemoveAll(dir)
		}
	}
	fail := func(err error) (*exec.Cmd, string, *os.File, func(), error) {
		cleanup()
		return nil, "", nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), kubeconfig, 0o600); err != nil {
		return fail(err)
	}
	if metricsAddr, err = freeAddr(); err != nil {
		return fail(err)
	}
	if logs, err = os.Create(filepath.Join(dir, "manager.log")); err != nil {
		return fail(err)
	}
	args := []string{"manager", "--metrics-bind-address=" + metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address=0", "--accrual-image=" + accrualImage}
	if o.reconciles > 0 {
		args = append(args, fmt.Sprintf("--max-concurrent-reconciles=%d", o.reconciles))
	}
	if pprof {
		args = append(args, "--pprof-bind-address=127.0.0.1:6060")
	}
	mgr = exec.Command(o.treue, args...)
	mgr.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "kubeconfig"))
	mgr.Stdout, mgr.Stderr = logs, logs
	if err := mgr.Start(); err != nil {
		return fail(err)
	}
	return mgr, metricsAddr, logs, func() { _ = mgr.Process.Kill(); _ = mgr.Wait(); cleanup() }, nil
}

// operatorRun is what one run of the manager measured.
type operatorRun struct {
	took         time.Duration // until every program settled
	controlPlane time.Duration // CPU of kube-apiserver and etcd until then
	settleCPU    time.Duration // the manager's CPU until then
	peakRSS      int64
	settleWrites int64 // the manager's write requests until then
	idleWrites   int64
}

// measureOperator runs the real manager against a fresh control plane.
func measureOperator(o options, n int, idle time.Duration) (run operatorRun, err error) {
	env, c, err := startControlPlane(o)
	if err != nil {
		return run, err
	}
	defer func() { _ = env.Stop() }()
	admin, err := env.AddUser(envtest.User{Name: "bench", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return run, err
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return run, err
	}
	profile := os.Getenv("BENCH_PROFILE") // diagnostics: a CPU profile of the manager while it settles (BENCH_APISERVER_PROFILE: of the API server)
	mgr, metricsAddr, logs, stop, err := startManager(o, kubeconfig, profile != "")
	if err != nil {
		return run, err
	}
	defer stop()

	ctx := context.Background()
	if profile != "" {
		go saveProfile(http.DefaultClient, "http://127.0.0.1:6060", profile)
	}
	if err := profileAPIServer(admin.Config(), os.Getenv("BENCH_APISERVER_PROFILE")); err != nil {
		return run, err
	}
	cpuBefore, err := controlPlaneCPU()
	if err != nil {
		return run, err
	}
	start := time.Now()
	if err := load.Parallel(o.workers, n, func(i int) error {
		ns, program, partners := network(i)
		if err := c.Create(ctx, ns); err != nil {
			return err
		}
		if err := c.Create(ctx, program); err != nil {
			return err
		}
		for _, p := range partners {
			if err := c.Create(ctx, p); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return run, err
	}
	if err := waitSettled(ctx, env.Config, n); err != nil {
		return run, err
	}
	run.took = time.Since(start)
	cpuAfter, err := controlPlaneCPU()
	if err != nil {
		return run, err
	}
	run.controlPlane = cpuAfter - cpuBefore
	if run.settleCPU, err = cpuTime(mgr.Process.Pid); err != nil {
		return run, err
	}
	if os.Getenv("BENCH_KEEP") != "" {
		// Diagnostics: keep the manager's log and print the moment of settling and
		// the manager's request counters around the idle period.
		fmt.Fprintf(os.Stderr, "settled at %s; manager log %s\n", time.Now().UTC().Format(time.RFC3339Nano), logs.Name())
	}

	if run.settleWrites, err = managerWrites(metricsAddr); err != nil {
		return run, err
	}
	if idle > 0 {
		if run.idleWrites, err = idleWrites(ctx, c, metricsAddr, idle); err != nil {
			return run, err
		}
	}
	run.peakRSS, err = vmHWM(mgr.Process.Pid)
	return run, err
}

// idleWrites counts the manager's write requests over an idle period, and says
// how many of them are Events recorded while settling and delivered late.
func idleWrites(ctx context.Context, c client.Client, metricsAddr string, idle time.Duration) (int64, error) {
	before, err := managerWrites(metricsAddr)
	if err != nil {
		return 0, err
	}
	if os.Getenv("BENCH_KEEP") != "" {
		dumpRequestMetrics(metricsAddr)
		fmt.Fprintln(os.Stderr, "---- idle ----")
	}
	eventsBefore, err := eventWrites(ctx, c)
	if err != nil {
		return 0, err
	}
	time.Sleep(idle)
	after, err := managerWrites(metricsAddr)
	if err != nil {
		return 0, err
	}
	eventsAfter, err := eventWrites(ctx, c)
	if err != nil {
		return 0, err
	}
	if os.Getenv("BENCH_KEEP") != "" {
		dumpRequestMetrics(metricsAddr)
	}
	if late := eventsAfter - eventsBefore; late > 0 {
		fmt.Printf("          (of the idle writes, about %d are Events recorded while settling and delivered late)\n", late)
	}
	return after - before, nil
}

// eventWrites counts what Events cost in writes so far: one per Event object,
// one more per repetition merged into its series.
func eventWrites(ctx context.Context, c client.Client) (int64, error) {
	list := &eventsv1.EventList{}
	if err := c.List(ctx, list); err != nil {
		return 0, err
	}
	total := int64(len(list.Items))
	for _, e := range list.Items {
		if e.Series != nil {
			total += int64(e.Series.Count)
		}
	}
	return total, nil
}

// programSettled says whether a program has observed its generation and counts
// its three partners.
func programSettled(p *loyaltyv1alpha1.LoyaltyProgram) bool {
	return p.Status.ObservedGeneration == p.Generation && p.Status.Partners == 3
}

// managerWrites sums the manager's write requests to the API server from its own
// client metrics.
func managerWrites(addr string) (int64, error) {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer func() { _ = res.Body.Close() }()
	var total int64
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "rest_client_requests_total{") {
			continue
		}
		for _, verb := range []string{`method="POST"`, `method="PUT"`, `method="PATCH"`, `method="DELETE"`} {
			if strings.Contains(line, verb) {
				fields := strings.Fields(line)
				v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
				if err == nil {
					total += int64(v)
				}
			}
		}
	}
	return total, sc.Err()
}

// waitSettled polls until every program has settled.
func waitSettled(ctx context.Context, cfg *rest.Config, n int) error {
	// A watch, not a poll: listing 1,000 programs every 200 ms costs the API
	// server, which is what the operator waits on, far more than the changes do;
	// the floor pays nothing of the kind.
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	done := map[string]bool{}
	count := func() int {
		k := 0
		for _, ok := range done {
			if ok {
				k++
			}
		}
		return k
	}
	for count() < n {
		list := &loyaltyv1alpha1.LoyaltyProgramList{}
		if err := c.List(ctx, list); err != nil {
			return err
		}
		for i := range list.Items {
			done[client.ObjectKeyFromObject(&list.Items[i]).String()] = programSettled(&list.Items[i])
		}
		w, err := c.Watch(ctx, &loyaltyv1alpha1.LoyaltyProgramList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
		if err != nil {
			return err
		}
		for count() < n {
			ev, ok := <-w.ResultChan()
			if !ok {
				break // the watch ended: list again
			}
			if p, isProgram := ev.Object.(*loyaltyv1alpha1.LoyaltyProgram); isProgram {
				done[client.ObjectKeyFromObject(p).String()] = programSettled(p)
			}
		}
		w.Stop()
		if err := ctx.Err(); err != nil {
			return errors.New("the programs did not settle within 30 minutes")
		}
	}
	// Every program counts its partners; its StatefulSet was applied before its
	// status, so one list finds them all.
	for {
		sets := &appsv1.StatefulSetList{}
		if err := c.List(ctx, sets); err != nil {
			return err
		}
		if len(sets.Items) >= n {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return errors.New("the StatefulSets did not appear within 30 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// profileAPIServer saves, in the background, a 30-second CPU profile of the API
// server cfg reaches to path (diagnostics); an empty path saves none.
func profileAPIServer(cfg *rest.Config, path string) error {
	if path == "" {
		return nil
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	go saveProfile(hc, cfg.Host, path)
	return nil
}

// saveProfile writes a 30-second CPU profile of the process serving base to path.
func saveProfile(hc *http.Client, base, path string) {
	var res *http.Response
	var err error
	for range 50 { // the manager may not listen yet
		if res, err = hc.Get(strings.TrimSuffix(base, "/") + "/debug/pprof/profile?seconds=30"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer func() { _ = res.Body.Close() }()
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer func() { _ = f.Close() }()
	_, _ = io.Copy(f, res.Body)
}

// controlPlaneCPU is the CPU time used so far by the control plane this process
// started: its child processes etcd and kube-apiserver.
func controlPlaneCPU() (time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	var total time.Duration
	found := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, fields, err := procStat(pid)
		if err != nil {
			continue // gone since the listing
		}
		if (comm != "etcd" && comm != "kube-apiserver") || fields[1] != strconv.Itoa(self) {
			continue
		}
		cpu, err := statCPU(fields)
		if err != nil {
			return 0, err
		}
		total += cpu
		found++
	}
	if found != 2 {
		return 0, fmt.Errorf("found %d control plane processes (etcd, kube-apiserver) started by this one, want 2", found)
	}
	return total, nil
}

// cpuTime is the CPU time a process has used, user and system, from /proc.
func cpuTime(pid int) (time.Duration, error) {
	_, fields, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return statCPU(fields)
}

// procStat reads a process's /proc stat: its command name, and the fields after
// it (the name is in parentheses and may hold spaces).
func procStat(pid int) (comm string, fields []string, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", nil, err
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", nil, errors.New("malformed /proc stat")
	}
	fields = strings.Fields(string(b[end+1:]))
	if len(fields) < 13 {
		return "", nil, errors.New("short /proc stat")
	}
	return string(b[open+1 : end]), fields, nil
}

// statCPU is utime plus stime from procStat's fields (the 12th and 13th after
// the name, in clock ticks of 1/100 s).
func statCPU(fields []string) (time.Duration, error) {
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// vmHWM is a process's peak resident set, from /proc.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fields := strings.Fields(line)
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// dumpRequestMetrics prints the manager's request counters (with BENCH_KEEP set),
// to tell what it writes.
func dumpRequestMetrics(addr string) {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return
	}
	defer func() { _ = res.Body.Close() }()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "rest_client_requests_total{") {
			fmt.Fprintln(os.Stderr, sc.Text())
		}
	}
}
