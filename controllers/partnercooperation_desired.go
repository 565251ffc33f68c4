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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

const (
	kindSA     = "ServiceAccount"
	kindSecret = "Secret"
	verbGet    = "get"
	// settlementTokenKey is the key of the program's tokens Secret the job reads.
	settlementTokenKey = "settlement-token"
	// adminTokenKey is the key of the program's admin token, which the manager
	// reads the sinks' figures with.
	adminTokenKey   = "admin-token"
	settleContainer = "settle"
	// settlementTokenDir is where the settlement job finds the program's token.
	settlementTokenDir = "/etc/treue/settlement"
	// maxCronJobName leaves room for the 11 characters a CronJob adds to its Jobs.
	maxCronJobName = 52
)

// settleName names a cooperation's CronJob, ServiceAccount, Role and RoleBinding;
// a long name is shortened with a hash so that the CronJob's Jobs stay valid.
func settleName(coop *loyaltyv1alpha1.PartnerCooperation) string {
	name := coop.Name + "-settle"
	if len(name) <= maxCronJobName {
		return name
	}
	sum := sha256.Sum256([]byte(coop.Name))
	return name[:maxCronJobName-7] + "-" + hex.EncodeToString(sum[:])[:6]
}

func cooperationLabels(coop *loyaltyv1alpha1.PartnerCooperation) map[string]string {
	return map[string]string{
		loyaltyv1alpha1.LabelAppName:      "treue-settle",
		loyaltyv1alpha1.LabelAppInstance:  coop.Name,
		loyaltyv1alpha1.LabelAppComponent: "settlement",
		loyaltyv1alpha1.LabelManagedBy:    loyaltyv1alpha1.ManagedByTreue,
		loyaltyv1alpha1.LabelCooperation:  coop.Name,
	}
}

func cooperationMeta(coop *loyaltyv1alpha1.PartnerCooperation, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: coop.Namespace, Labels: cooperationLabels(coop)}
}

// cooperationObjects are what a cooperation owns.
type cooperationObjects struct {
	ServiceAccount *corev1.ServiceAccount
	Role           *rbacv1.Role
	RoleBinding    *rbacv1.RoleBinding
	CronJob        *batchv1.CronJob
}

// desiredCooperationObjects builds the settlement CronJob of a cooperation and the
// identity it runs as. The Role lets the job read its cooperation and program and
// write Settlements, nothing else; the program's settlement token reaches it as a
// mounted file. excluded partners (settled by another cooperation) are left out
// of every run.
func desiredCooperationObjects(coop *loyaltyv1alpha1.PartnerCooperation, image string, excluded []string) cooperationObjects {
	name := settleName(coop)
	program := coop.Spec.ProgramRef.Name
	tokens := tokensSecretName(program)
	args := make([]string, 0, 3+len(excluded))
	args = append(args, "settle", fmt.Sprintf("--cooperation=%s/%s", coop.Namespace, coop.Name),
		"--token-file="+settlementTokenDir+"/"+settlementTokenKey)
	excluded = slices.Sorted(slices.Values(excluded))
	for _, p := range excluded {
		args = append(args, "--exclude="+p)
	}
	objs := cooperationObjects{
		ServiceAccount: &corev1.ServiceAccount{
			TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: kindSA},
			ObjectMeta:                   cooperationMeta(coop, name),
			AutomountServiceAccountToken: ptr.To(false),
		},
		Role: &rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: cooperationMeta(coop, name),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{loyaltyv1alpha1.GroupVersion.Group}, Resources: []string{"partnercooperations"},
					ResourceNames: []string{coop.Name}, Verbs: []string{verbGet}},
				{APIGroups: []string{loyaltyv1alpha1.GroupVersion.Group}, Resources: []string{"loyaltyprograms"},
					ResourceNames: []string{program}, Verbs: []string{verbGet}},
				{APIGroups: []string{loyaltyv1alpha1.GroupVersion.Group}, Resources: []string{"settlements"}, Verbs: []string{verbGet, "create"}},
				{APIGroups: []string{loyaltyv1alpha1.GroupVersion.Group}, Resources: []string{"settlements/status"}, Verbs: []string{"update"}},
			},
		},
		RoleBinding: &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: cooperationMeta(coop, name),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: kindSA, Name: name, Namespace: coop.Namespace}},
		},
	}
	pod := corev1.PodSpec{
		ServiceAccountName:           name,
		AutomountServiceAccountToken: ptr.To(true), // the job writes Settlements
		RestartPolicy:                corev1.RestartPolicyNever,
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](accrualUID), RunAsGroup: ptr.To[int64](accrualUID),
			// The token file is mode 0440; the group makes it readable to the job.
			FSGroup:        ptr.To[int64](accrualUID),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name: settleContainer, Image: image, Args: args,
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: settlementTokenKey, MountPath: settlementTokenDir, ReadOnly: true}},
		}},
		Volumes: []corev1.Volume{{Name: settlementTokenKey, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: tokens, Items: []corev1.KeyToPath{{Key: settlementTokenKey, Path: settlementTokenKey}},
			DefaultMode: ptr.To[int32](0o440)}}}},
	}
	objs.CronJob = &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: cooperationMeta(coop, name),
		Spec: batchv1.CronJobSpec{
			Schedule:                   coop.Spec.Schedule.Cron,
			TimeZone:                   ptr.To(coop.Spec.Schedule.TimeZoneName()),
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			Suspend:                    ptr.To(coop.Spec.Suspended()),
			StartingDeadlineSeconds:    ptr.To[int64](3600),
			SuccessfulJobsHistoryLimit: ptr.To[int32](3),
			FailedJobsHistoryLimit:     ptr.To[int32](3),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: cooperationLabels(coop)},
				Spec: batchv1.JobSpec{
					BackoffLimit:          ptr.To[int32](4),
					ActiveDeadlineSeconds: ptr.To[int64](3600),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: cooperationLabels(coop)},
						Spec:       pod,
					},
				},
			},
		},
	}
	return objs
}
