//go:build e2e

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

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/events"
)

// receivedEvent is what the e2e receiver lists on GET /events.
type receivedEvent struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// partnerWebhook declares a webhook on the bakery's Partner, served by a
// receiver pod of the bakery's namespace that verifies every request with the
// reference Standard Webhooks library, and checks what reaches it: the earn
// event of its till's purchase, not the printer's purchase of the same member
// (made first: a member's events arrive in order, so it would have come
// first), and the bakery's settlement line after the CronJob's run.
func partnerWebhook(ctx context.Context) {
	image := os.Getenv("TREUE_E2E_RECEIVER_IMAGE")
	Expect(image).NotTo(BeEmpty(), "TREUE_E2E_RECEIVER_IMAGE is not set: run `make e2e`, which builds the receiver's image")
	const ns = "baeckerei-korn"
	secret, err := events.NewSecret()
	Expect(err).NotTo(HaveOccurred())
	signing := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-webhook", Namespace: ns}, StringData: map[string]string{"secret": secret}}
	Expect(k8s.Create(ctx, signing)).To(Succeed())
	user := int64(65532)
	labels := map[string]string{"app": "shop-receiver"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-receiver", Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: &user, RunAsGroup: &user},
			Containers: []corev1.Container{{
				Name: "receiver", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Args:         []string{"/webhook/secret", ":8080"},
				Ports:        []corev1.ContainerPort{{ContainerPort: 8080}},
				VolumeMounts: []corev1.VolumeMount{{Name: "webhook", MountPath: "/webhook", ReadOnly: true}},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
			Volumes: []corev1.Volume{{Name: "webhook", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "shop-webhook"}}}},
		},
	}
	Expect(k8s.Create(ctx, pod)).To(Succeed())
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-receiver", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}}},
	}
	Expect(k8s.Create(ctx, svc)).To(Succeed())
	partner := &loyaltyv1alpha1.Partner{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "baeckerei-korn"}, partner)).To(Succeed())
	before := &loyaltyv1alpha1.LoyaltyProgram{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "stadtbonus", Name: "stadtbonus"}, before)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		p := &loyaltyv1alpha1.Partner{}
		if k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "baeckerei-korn"}, p) == nil {
			patch := client.MergeFrom(p.DeepCopy())
			p.Spec.Events = nil
			_ = k8s.Patch(ctx, p, patch)
		}
		_ = k8s.Delete(ctx, pod)
		_ = k8s.Delete(ctx, svc)
		_ = k8s.Delete(ctx, signing)
	})
	patch := client.MergeFrom(partner.DeepCopy())
	partner.Spec.Events = &loyaltyv1alpha1.PartnerEvents{Sinks: []loyaltyv1alpha1.EventSink{{Name: "shop",
		Ref: &loyaltyv1alpha1.SinkServiceReference{Name: "shop-receiver", Port: 8080}, SigningSecretRef: &loyaltyv1alpha1.LocalObjectReference{Name: "shop-webhook"}}}}
	Expect(k8s.Patch(ctx, partner, patch)).To(Succeed())

	// The sink reaches the program's configuration, which rolls out.
	eventually(func(g Gomega) {
		cm := &corev1.ConfigMap{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "stadtbonus", Name: "stadtbonus-accrual"}, cm)).To(Succeed())
		var c accrualapi.Config
		g.Expect(json.Unmarshal([]byte(cm.Data["accrual.json"]), &c)).To(Succeed())
		g.Expect(c.Events).NotTo(BeNil())
		g.Expect(c.Events.Sinks).To(ContainElement(HaveField("Name", "baeckerei-korn.baeckerei-korn.shop")))
		p := &loyaltyv1alpha1.LoyaltyProgram{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "stadtbonus", Name: "stadtbonus"}, p)).To(Succeed())
		g.Expect(p.Status.ConfigHash).NotTo(Equal(before.Status.ConfigHash))
		g.Expect(meta.IsStatusConditionTrue(p.Status.Conditions, loyaltyv1alpha1.ConditionReady)).To(BeTrue(), "%+v", p.Status.Conditions)
		g.Expect(meta.IsStatusConditionFalse(p.Status.Conditions, "Progressing")).To(BeTrue(), "the rollout is not complete")
	}).Should(Succeed())
	var receiverURL string
	eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(svc), svc)).To(Succeed())
		receiverURL = fmt.Sprintf("http://%s:8080", svc.Spec.ClusterIP)
		res, err := http.Get(receiverURL + "/events")
		g.Expect(err).NotTo(HaveOccurred())
		_ = res.Body.Close()
		g.Expect(res.StatusCode).To(Equal(http.StatusOK))
	}).Should(Succeed())

	keyOf := func(partnerNS, name string) string {
		creds := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: partnerNS, Name: name + "-stadtbonus-stadtbonus-credentials"}, creds)).To(Succeed())
		return string(creds.Data["apiKey"])
	}
	bakeryKey, printerKey := keyOf(ns, "baeckerei-korn"), keyOf("druckerei-blau", "druckerei-blau")
	url := serviceURL(ctx)
	member := fmt.Sprintf("e2e-events-%d", time.Now().UnixNano())
	ok(call("POST", url+"/v1/members", bakeryKey, "enroll-"+member, map[string]any{"member": member}))
	ok(call("POST", url+"/v1/earn", printerKey, "printer-"+member, map[string]any{"member": member, "amount": 3000, "currency": "EUR"}))
	earned := ok(call("POST", url+"/v1/earn", bakeryKey, "bakery-"+member, map[string]any{"member": member, "amount": 2000, "currency": "EUR"}))
	bakeryEvent := fmt.Sprintf("entry-%d", int64(earned["entryId"].(float64)))

	received := func(g Gomega) []receivedEvent {
		res, err := http.Get(receiverURL + "/events")
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = res.Body.Close() }()
		raw, _ := io.ReadAll(res.Body)
		var out []receivedEvent
		g.Expect(json.Unmarshal(raw, &out)).To(Succeed(), string(raw))
		return out
	}
	var got []receivedEvent
	eventually(func(g Gomega) {
		got = received(g)
		ids := []string{}
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		g.Expect(ids).To(ContainElement(bakeryEvent))
	}).Should(Succeed())
	for _, e := range got {
		if e.Type != accrualapi.EventPointsEarned || e.Subject != member {
			continue
		}
		var d accrualapi.EntryEvent
		Expect(json.Unmarshal(e.Data, &d)).To(Succeed())
		Expect(d.Entry.Partner).To(Equal("baeckerei-korn/baeckerei-korn"), "the bakery's webhook got another partner's purchase: %s", e.Data)
	}

	// The CronJob's run verifies the week settled before and reports it: the
	// bakery gets its own line, no one else's.
	name := fmt.Sprintf("e2e-settle-events-%d", time.Now().Unix())
	kubectlOut("create", "job", "--from=cronjob/stadtbonus-weekly-settle", "-n", "stadtbonus", name)
	kubectlOut("wait", "--for=condition=Complete", "job/"+name, "-n", "stadtbonus", "--timeout=120s")
	eventually(func(g Gomega) {
		settled := 0
		for _, e := range received(g) {
			if e.Type != accrualapi.EventSettlementCompleted {
				continue
			}
			var d accrualapi.SettlementEvent
			g.Expect(json.Unmarshal(e.Data, &d)).To(Succeed())
			g.Expect(d.Statement).NotTo(BeNil())
			g.Expect(d.Statement.Partner).To(Equal("baeckerei-korn/baeckerei-korn"))
			settled++
		}
		g.Expect(settled).To(Equal(1))
	}).Should(Succeed())

	// The partner's status shows the sink delivering (read at most once a minute).
	eventually(func(g Gomega) {
		p := &loyaltyv1alpha1.Partner{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "baeckerei-korn"}, p)).To(Succeed())
		g.Expect(p.Status.Programs).NotTo(BeEmpty())
		c := meta.FindStatusCondition(p.Status.Programs[0].Conditions, loyaltyv1alpha1.ConditionEventsDelivering)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		g.Expect(p.Status.Programs[0].Events).To(HaveLen(1))
		g.Expect(p.Status.Programs[0].Events[0].Delivered).To(BeNumerically(">=", 2))
	}).Should(Succeed())
}
