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
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
)

// Ports of the accrual service.
const (
	apiPort     = 8080
	metricsPort = 9090
)

const (
	// accrualUID is the non-root user of the image.
	accrualUID = 65532
	// accrualContainer names the container, and the component in labels.
	accrualContainer = "accrual"
	// preStopSeconds is how long a pod leaving a Deployment's rollout keeps
	// serving after it leaves the endpoints; within terminationGracePeriodSeconds
	// together with --shutdown-grace.
	preStopSeconds = 5
)

// accrualName names every object of a program's accrual service.
func accrualName(program *loyaltyv1alpha1.LoyaltyProgram) string { return program.Name + "-accrual" }

// tokensSecretName names the Secret with a program's admin and settlement
// tokens; the settlement job mounts it by this name.
func tokensSecretName(program string) string { return program + "-accrual-tokens" }

// accrualSecretsName is the Secret with the credential hashes.
func accrualSecretsName(program *loyaltyv1alpha1.LoyaltyProgram) string {
	return accrualName(program) + "-secrets"
}

func accrualLabels(program *loyaltyv1alpha1.LoyaltyProgram) map[string]string {
	return map[string]string{
		loyaltyv1alpha1.LabelAppName:      "treue-accrual",
		loyaltyv1alpha1.LabelAppInstance:  program.Name,
		loyaltyv1alpha1.LabelAppComponent: accrualContainer,
		loyaltyv1alpha1.LabelManagedBy:    loyaltyv1alpha1.ManagedByTreue,
		loyaltyv1alpha1.LabelProgram:      program.Name,
	}
}

func accrualSelector(program *loyaltyv1alpha1.LoyaltyProgram) map[string]string {
	return map[string]string{loyaltyv1alpha1.LabelAppName: "treue-accrual", loyaltyv1alpha1.LabelAppInstance: program.Name}
}

func objectMeta(program *loyaltyv1alpha1.LoyaltyProgram, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: program.Namespace, Labels: accrualLabels(program)}
}

// configHash fingerprints what the pods run with: the configuration file and the
// credential hashes.
func configHash(config []byte, secrets map[string][]byte) string {
	h := sha256.New()
	h.Write(config)
	keys := make([]string, 0, len(secrets))
	for k := range secrets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.Write([]byte{0})
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(secrets[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// programObjects are what a LoyaltyProgram is reconciled into. Exactly one of
// StatefulSet and Deployment is set; PodDisruptionBudget only with replicas > 1.
type programObjects struct {
	ServiceAccount      *corev1.ServiceAccount
	ConfigMap           *corev1.ConfigMap
	Service             *corev1.Service
	StatefulSet         *appsv1.StatefulSet
	Deployment          *appsv1.Deployment
	PodDisruptionBudget *policyv1.PodDisruptionBudget
	NetworkPolicy       *networkingv1.NetworkPolicy
}

// desiredProgramObjects builds a program's objects from the rendered
// configuration, the hash of everything the pods run with, the image, and the
// namespaces whose partners the program accepted.
func desiredProgramObjects(program *loyaltyv1alpha1.LoyaltyProgram, config []byte, hash, image string,
	partnerNamespaces []string) programObjects {
	name := accrualName(program)
	objs := programObjects{
		// The accrual service never talks to the Kubernetes API: no token.
		ServiceAccount: &corev1.ServiceAccount{
			TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: kindSA},
			ObjectMeta:                   objectMeta(program, name),
			AutomountServiceAccountToken: ptr.To(false),
		},
		ConfigMap: &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: objectMeta(program, name),
			Data:       map[string]string{"accrual.json": string(config)},
		},
		Service: &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: objectMeta(program, name),
			Spec: corev1.ServiceSpec{
				Selector: accrualSelector(program),
				Ports: []corev1.ServicePort{
					{Name: "api", Port: apiPort, TargetPort: intstr.FromString("api"), Protocol: corev1.ProtocolTCP},
					{Name: "metrics", Port: metricsPort, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP},
				},
			},
		},
		NetworkPolicy: desiredNetworkPolicy(program, partnerNamespaces),
	}
	template := desiredPodTemplate(program, hash, image)
	replicas := program.Spec.Service.ReplicaCount()
	if program.Spec.Ledger.Type == loyaltyv1alpha1.LedgerPostgreSQL {
		// A pod leaving a rollout keeps serving for a few seconds after it is taken
		// out of the Service's endpoints, so requests routed to it before every
		// node heard of that still get an answer; only then is it sent SIGTERM and
		// finishes what is in flight. (An embedded ledger's one pod has no peer
		// to hand over to: there the wait would only lengthen the gap.)
		template.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			Sleep: &corev1.SleepAction{Seconds: preStopSeconds},
		}}
		objs.Deployment = &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: objectMeta(program, name),
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(replicas),
				Selector: &metav1.LabelSelector{MatchLabels: accrualSelector(program)},
				Template: template,
				// Never below the desired replicas while a rule change rolls out.
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1)),
				}},
			},
		}
		if replicas > 1 {
			objs.PodDisruptionBudget = &policyv1.PodDisruptionBudget{
				TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
				ObjectMeta: objectMeta(program, name),
				Spec: policyv1.PodDisruptionBudgetSpec{
					MaxUnavailable: ptr.To(intstr.FromInt32(1)),
					Selector:       &metav1.LabelSelector{MatchLabels: accrualSelector(program)},
				},
			}
		}
		return objs
	}
	storage := resource.MustParse("1Gi")
	var storageClass *string
	if e := program.Spec.Ledger.Embedded; e != nil {
		if e.Storage != nil {
			storage = *e.Storage
		}
		storageClass = e.StorageClassName
	}
	objs.StatefulSet = &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: objectMeta(program, name),
		Spec: appsv1.StatefulSetSpec{
			// The embedded ledger has one writer: one replica, always.
			Replicas:    ptr.To[int32](1),
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: accrualSelector(program)},
			Template:    template,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "ledger", Labels: accrualLabels(program)},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: storageClass,
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: storage}},
				},
			}},
			// Deleting the program keeps the ledger's volume: points are money.
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
		},
	}
	return objs
}

// programOwned is every object applyOwned keeps for a program, in the order it
// applies them: the key-hash Secret first, the workload last.
func programOwned(program *loyaltyv1alpha1.LoyaltyProgram, config []byte, hash, image string,
	hashes map[string][]byte, partnerNamespaces []string) []client.Object {
	secrets := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: kindSecret},
		ObjectMeta: objectMeta(program, accrualSecretsName(program)),
		Type:       corev1.SecretTypeOpaque,
		Data:       hashes,
	}
	objs := desiredProgramObjects(program, config, hash, image, partnerNamespaces)
	all := []client.Object{secrets, objs.ServiceAccount, objs.ConfigMap, objs.Service, objs.NetworkPolicy}
	if objs.StatefulSet != nil {
		all = append(all, objs.StatefulSet)
	}
	if objs.Deployment != nil {
		all = append(all, objs.Deployment)
	}
	if objs.PodDisruptionBudget != nil {
		all = append(all, objs.PodDisruptionBudget)
	}
	return all
}

// tokensSecret holds a program's new admin and settlement tokens.
func tokensSecret(program *loyaltyv1alpha1.LoyaltyProgram, admin, settlement string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: kindSecret},
		ObjectMeta: metav1.ObjectMeta{Name: tokensSecretName(program.Name), Namespace: program.Namespace, Labels: accrualLabels(program)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{adminTokenKey: []byte(admin), settlementTokenKey: []byte(settlement)},
	}
}

// tokenHashes are the hashes of a program's tokens, by the service's file names.
func tokenHashes(secret *corev1.Secret) map[string][]byte {
	return map[string][]byte{
		accrualapi.AdminTokenHashFile:      keyHash(secret.Data[adminTokenKey]),
		accrualapi.SettlementTokenHashFile: keyHash(secret.Data[settlementTokenKey]),
	}
}

func desiredPodTemplate(program *loyaltyv1alpha1.LoyaltyProgram, hash, image string) corev1.PodTemplateSpec {
	name := accrualName(program)
	if program.Spec.Service.Image != "" {
		image = program.Spec.Service.Image
	}
	resources := *program.Spec.Service.Resources.DeepCopy()
	if resources.Requests == nil {
		resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	}
	secrets := []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{
		LocalObjectReference: corev1.LocalObjectReference{Name: accrualSecretsName(program)},
	}}}
	if pg := program.Spec.Ledger.PostgreSQL; pg != nil {
		secrets = append(secrets, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: pg.DSNSecretRef.Name},
			Items:                []corev1.KeyToPath{{Key: pg.DSNSecretRef.Key, Path: accrualapi.LedgerDSNFile}},
		}})
	}
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: "/etc/treue/config", ReadOnly: true},
		{Name: "secrets", MountPath: "/etc/treue/secrets", ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
	}
	volumes := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}}}},
		{Name: "secrets", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: secrets, DefaultMode: ptr.To[int32](0o440)}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	if program.Spec.Ledger.Type != loyaltyv1alpha1.LedgerPostgreSQL {
		mounts = append(mounts, corev1.VolumeMount{Name: "ledger", MountPath: "/var/lib/treue"})
	}
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("api")}},
			PeriodSeconds: period, TimeoutSeconds: 2, FailureThreshold: 3,
		}
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      accrualLabels(program),
			Annotations: map[string]string{loyaltyv1alpha1.AnnotationConfigHash: hash, "kubectl.kubernetes.io/default-container": accrualContainer},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName:            name,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](accrualUID), RunAsGroup: ptr.To[int64](accrualUID),
				FSGroup: ptr.To[int64](accrualUID), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:  accrualContainer,
				Image: image,
				Args: []string{"accrual", "--config=/etc/treue/config/accrual.json", "--secrets-dir=/etc/treue/secrets",
					"--listen=:8080", "--metrics-listen=:9090", "--shutdown-grace=25s"},
				Ports: []corev1.ContainerPort{
					{Name: "api", ContainerPort: apiPort, Protocol: corev1.ProtocolTCP},
					{Name: "metrics", ContainerPort: metricsPort, Protocol: corev1.ProtocolTCP},
				},
				LivenessProbe:  probe("/healthz", 20),
				ReadinessProbe: probe("/readyz", 5),
				Resources:      resources,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				VolumeMounts: mounts,
			}},
			Volumes: volumes,
		},
	}
}

// desiredNetworkPolicy lets the API port be reached from the namespaces of the
// accepted partners, the manager's (which reads /v1/stats; the reconciler adds it
// to partnerNamespaces) and the program's own (where the settlement jobs run),
// and the metrics port from namespaces labelled for monitoring.
func desiredNetworkPolicy(program *loyaltyv1alpha1.LoyaltyProgram, partnerNamespaces []string) *networkingv1.NetworkPolicy {
	namespaces := slices.Clone(partnerNamespaces)
	namespaces = append(namespaces, program.Namespace)
	slices.Sort(namespaces)
	namespaces = slices.Compact(namespaces)
	tcp := corev1.ProtocolTCP
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(program, accrualName(program)),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: accrualSelector(program)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(apiPort))}},
					From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
						MatchExpressions: []metav1.LabelSelectorRequirement{{
							Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: namespaces,
						}},
					}}},
				},
				{
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(metricsPort))}},
					From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
						MatchLabels: map[string]string{loyaltyv1alpha1.LabelMonitoring: "true"},
					}}},
				},
			},
		},
	}
}
