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
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// PolicyOptions name the installation the admission policies are for.
type PolicyOptions struct {
	// NamePrefix starts every policy's and binding's name, such as "treue-".
	NamePrefix string
	// ManagerUser is the manager's user name:
	// "system:serviceaccount:<namespace>:<service account>".
	ManagerUser string
	// Labels go on every policy and binding.
	Labels map[string]string
}

// AdmissionPolicies are the ValidatingAdmissionPolicies (with their bindings)
// that bound the manager's and the settlement jobs' power to treue's own
// objects, whatever their RBAC verbs allow:
//
//   - The manager writes (creates, updates, deletes) Secrets, ConfigMaps,
//     Services, ServiceAccounts, workloads, PodDisruptionBudgets,
//     NetworkPolicies, CronJobs, Roles and RoleBindings only when the object
//     (before and after) carries app.kubernetes.io/managed-by=treue and a
//     controller owner reference to a treue object of the right kind, in a
//     namespace that holds a LoyaltyProgram (a Partner, for a partner's
//     credentials Secret), never in a kube-* namespace.
//   - The Pods it asks for run unprivileged, as non-root, on no host
//     namespace or path, as the workload's own service account; its Secrets
//     are Opaque, its Services ClusterIP without external IPs.
//   - The Roles it writes hold exactly the settlement job's rules, and its
//     RoleBindings bind only the job's service account to the job's Role.
//   - The manager writes no Settlement, though it holds the verbs to grant
//     them to the jobs.
//   - A service account of a Settlement's namespace writes (creates, updates
//     the status of) only the Settlements of the cooperation whose settlement
//     job it is.
//
// They are one source for the chart and for kustomize (make manifests
// writes both) and for the tests, which install them in envtest.
func AdmissionPolicies(o PolicyOptions) []client.Object {
	manager := fmt.Sprintf("request.userInfo.username == %s", celString(o.ManagerUser))
	isManager := []admissionv1.MatchCondition{{Name: "the-treue-manager", Expression: manager}}
	var out []client.Object
	add := func(name string, p admissionv1.ValidatingAdmissionPolicySpec, b admissionv1.ValidatingAdmissionPolicyBindingSpec) {
		p.FailurePolicy = ptr.To(admissionv1.Fail)
		b.PolicyName = o.NamePrefix + name
		b.ValidationActions = []admissionv1.ValidationAction{admissionv1.Deny}
		out = append(out,
			&admissionv1.ValidatingAdmissionPolicy{
				TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
				ObjectMeta: metav1.ObjectMeta{Name: o.NamePrefix + name, Labels: o.Labels},
				Spec:       p,
			},
			&admissionv1.ValidatingAdmissionPolicyBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: o.NamePrefix + name, Labels: o.Labels},
				Spec:       b,
			})
	}
	writes := []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete}
	createUpdate := []admissionv1.OperationType{admissionv1.Create, admissionv1.Update}
	onlyDeny := admissionv1.ValidatingAdmissionPolicyBindingSpec{}
	target := admissionv1.Variable{Name: "target", Expression: "request.operation == 'DELETE' ? oldObject : object"}
	treueLabel := metav1.LabelSelectorRequirement{Key: loyaltyv1alpha1.LabelManagedBy, Operator: metav1.LabelSelectorOpIn,
		Values: []string{loyaltyv1alpha1.ManagedByTreue}}
	partnerLabel := metav1.LabelSelectorRequirement{Key: loyaltyv1alpha1.LabelPartner}

	// 1. Every object the manager writes is treue's, before and after: labelled,
	// and controlled by a treue object of the kind that owns such objects.
	add("manager-objects", admissionv1.ValidatingAdmissionPolicySpec{
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: managedResources(writes)},
		MatchConditions:  isManager,
		Variables: []admissionv1.Variable{target, {Name: "ownerKinds", Expression: "request.resource.resource in ['cronjobs', 'roles', 'rolebindings'] ? " +
			"['PartnerCooperation'] : request.resource.resource == 'serviceaccounts' ? ['LoyaltyProgram', 'PartnerCooperation'] : " +
			"request.resource.resource == 'secrets' ? ['LoyaltyProgram', 'Partner'] : ['LoyaltyProgram']"}},
		Validations: treueObject(),
	}, onlyDeny)

	// 2. The manager creates its objects only in namespaces that hold a
	// LoyaltyProgram (a partner's credentials: a Partner). The parameter is
	// that object; none found is a refusal. The API server looks for the
	// parameter before it evaluates the match condition, so this binding
	// selects objects by treue's label rather than by user: no one creates a
	// treue-labelled object in a namespace without a program (or partner).
	// Updates and deletes are left out: the manager may change only objects
	// that are already treue's (1.), and the garbage collector must be able to
	// remove a deleted program's objects.
	inNamespacesWith := func(partner metav1.LabelSelectorOperator) admissionv1.ValidatingAdmissionPolicyBindingSpec {
		sel := partnerLabel
		sel.Operator = partner
		return admissionv1.ValidatingAdmissionPolicyBindingSpec{
			ParamRef: &admissionv1.ParamRef{Selector: &metav1.LabelSelector{}, ParameterNotFoundAction: ptr.To(admissionv1.DenyAction)},
			MatchResources: &admissionv1.MatchResources{ObjectSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{treueLabel, sel}}},
		}
	}
	create := []admissionv1.OperationType{admissionv1.Create}
	add("program-namespaces", admissionv1.ValidatingAdmissionPolicySpec{
		ParamKind:        &admissionv1.ParamKind{APIVersion: loyaltyv1alpha1.GroupVersion.String(), Kind: "LoyaltyProgram"},
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: managedResources(create)},
		Validations: []admissionv1.Validation{{Expression: "params.metadata.namespace == request.namespace",
			Message: "treue's objects are created only in a namespace that holds a LoyaltyProgram"}},
	}, inNamespacesWith(metav1.LabelSelectorOpDoesNotExist))
	add("partner-namespaces", admissionv1.ValidatingAdmissionPolicySpec{
		ParamKind:        &admissionv1.ParamKind{APIVersion: loyaltyv1alpha1.GroupVersion.String(), Kind: "Partner"},
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{rule(create, "", "secrets")}},
		Validations: []admissionv1.Validation{{Expression: "params.metadata.namespace == request.namespace",
			Message: "a partner's credentials are created only in a namespace that holds a Partner"}},
	}, inNamespacesWith(metav1.LabelSelectorOpExists))

	// 3. What the manager's objects may be.
	add("manager-secrets", admissionv1.ValidatingAdmissionPolicySpec{
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{rule(createUpdate, "", "secrets")}},
		MatchConditions:  isManager,
		Validations: []admissionv1.Validation{{Expression: "!has(object.type) || object.type == 'Opaque'",
			Message: "the treue manager writes only Opaque Secrets (never a service account token)"}},
	}, onlyDeny)
	add("manager-services", admissionv1.ValidatingAdmissionPolicySpec{
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{rule(createUpdate, "", "services")}},
		MatchConditions:  isManager,
		Validations: []admissionv1.Validation{{
			Expression: "(!has(object.spec.type) || object.spec.type == 'ClusterIP') && (!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0)",
			Message:    "the treue manager writes only ClusterIP Services without external IPs"}},
	}, onlyDeny)
	add("manager-workloads", admissionv1.ValidatingAdmissionPolicySpec{
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{
			rule(createUpdate, "apps", "statefulsets", "deployments")}},
		MatchConditions: isManager,
		Variables:       []admissionv1.Variable{{Name: "pod", Expression: "object.spec.template.spec"}},
		Validations:     safePod(),
	}, onlyDeny)
	add("manager-cronjobs", admissionv1.ValidatingAdmissionPolicySpec{
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{rule(createUpdate, "batch", "cronjobs")}},
		MatchConditions:  isManager,
		Variables:        []admissionv1.Variable{{Name: "pod", Expression: "object.spec.jobTemplate.spec.template.spec"}},
		Validations:      safePod(),
	}, onlyDeny)
	add("manager-roles", admissionv1.ValidatingAdmissionPolicySpec{
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{
			rule(createUpdate, "rbac.authorization.k8s.io", "roles")}},
		MatchConditions: isManager,
		Validations: []admissionv1.Validation{{Expression: jobRoleRules(),
			Message: "a Role the treue manager writes holds exactly the settlement job's rules: get its cooperation and its program, " +
				"get and create Settlements, update their status"}},
	}, onlyDeny)
	add("manager-rolebindings", admissionv1.ValidatingAdmissionPolicySpec{
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{
			rule(createUpdate, "rbac.authorization.k8s.io", "rolebindings")}},
		MatchConditions: isManager,
		Validations: []admissionv1.Validation{{
			Expression: "object.roleRef.apiGroup == 'rbac.authorization.k8s.io' && object.roleRef.kind == 'Role' && object.roleRef.name == object.metadata.name && " +
				"has(object.subjects) && size(object.subjects) == 1 && object.subjects[0].kind == 'ServiceAccount' && " +
				"object.subjects[0].name == object.metadata.name && has(object.subjects[0].namespace) && object.subjects[0].namespace == request.namespace",
			Message: "a RoleBinding the treue manager writes binds only a settlement job's service account to that job's Role, both of the binding's name"}},
	}, onlyDeny)

	// The manager holds the verbs on Settlements only to grant them to the
	// jobs (RBAC lets no one grant what it does not hold); it writes none.
	add("manager-settlements", admissionv1.ValidatingAdmissionPolicySpec{
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{
			rule(writes, loyaltyv1alpha1.GroupVersion.Group, "settlements", "settlements/status")}},
		MatchConditions: isManager,
		Validations: []admissionv1.Validation{{Expression: "false",
			Message: "the treue manager writes no Settlement: it holds the verbs only to grant them to the settlement jobs"}},
	}, onlyDeny)

	// 4. A settlement job writes only its own cooperation's Settlements. A
	// job's service account is named after its cooperation (settleName): the
	// name and "-settle", or, for a cooperation name longer than
	// maxCronJobName-7, its first characters, "-" and six hex digits of a hash
	// (CEL has no SHA-256: such a job is told apart from the other jobs of its
	// namespace by that prefix only).
	prefix := "'system:serviceaccount:' + request.namespace + ':'"
	keep := maxCronJobName - len("-settle")
	add("settlement-jobs", admissionv1.ValidatingAdmissionPolicySpec{
		MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{
			rule(createUpdate, loyaltyv1alpha1.GroupVersion.Group, "settlements", "settlements/status")}},
		MatchConditions: []admissionv1.MatchCondition{{Name: "a-service-account-of-the-namespace",
			Expression: "request.userInfo.username.startsWith(" + prefix + ")"}},
		Variables: []admissionv1.Variable{
			{Name: "account", Expression: "request.userInfo.username.substring(size(" + prefix + "))"},
			{Name: "cooperation", Expression: "object.spec.cooperationRef.name"},
		},
		Validations: []admissionv1.Validation{{
			Expression: fmt.Sprintf("size(variables.cooperation) <= %[1]d ? variables.account == variables.cooperation + '-settle' : "+
				"(size(variables.account) == %[2]d && variables.account.startsWith(variables.cooperation.substring(0, %[1]d) + '-'))", keep, maxCronJobName),
			MessageExpression: "'a service account of namespace ' + request.namespace + ' writes only the Settlements of the cooperation whose " +
				"settlement job it is: ' + variables.account + ' is not the job of ' + variables.cooperation",
		}},
	}, onlyDeny)
	return out
}

// managedResources are the kinds of object the manager writes for programs,
// cooperations and partners.
func managedResources(ops []admissionv1.OperationType) []admissionv1.NamedRuleWithOperations {
	return []admissionv1.NamedRuleWithOperations{
		rule(ops, "", "configmaps", "services", "serviceaccounts", "secrets"),
		rule(ops, "apps", "statefulsets", "deployments"),
		rule(ops, "batch", "cronjobs"),
		rule(ops, "policy", "poddisruptionbudgets"),
		rule(ops, "networking.k8s.io", "networkpolicies"),
		rule(ops, "rbac.authorization.k8s.io", "roles", "rolebindings"),
	}
}

func rule(ops []admissionv1.OperationType, group string, resources ...string) admissionv1.NamedRuleWithOperations {
	return admissionv1.NamedRuleWithOperations{RuleWithOperations: admissionv1.RuleWithOperations{
		Operations: ops,
		Rule:       admissionv1.Rule{APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: resources},
	}}
}

// treueObject are the validations of an object the manager writes: where, its
// label and its owner, before and after.
func treueObject() []admissionv1.Validation {
	treue := func(obj string) string {
		return fmt.Sprintf("has(%[1]s.metadata.labels) && '%[2]s' in %[1]s.metadata.labels && %[1]s.metadata.labels['%[2]s'] == '%[3]s' && "+
			"has(%[1]s.metadata.ownerReferences) && %[1]s.metadata.ownerReferences.exists(o, o.apiVersion.startsWith('%[4]s/') && "+
			"o.kind in variables.ownerKinds && has(o.controller) && o.controller)",
			obj, loyaltyv1alpha1.LabelManagedBy, loyaltyv1alpha1.ManagedByTreue, loyaltyv1alpha1.GroupVersion.Group)
	}
	return []admissionv1.Validation{
		{Expression: "!request.namespace.startsWith('kube-')", Message: "the treue manager writes nothing in a kube- namespace"},
		{Expression: treue("variables.target"),
			MessageExpression: "'the treue manager writes only its own objects: labelled " + loyaltyv1alpha1.LabelManagedBy + "=" + loyaltyv1alpha1.ManagedByTreue +
				" and controlled by a ' + variables.ownerKinds.join(' or ') + ' of the namespace'"},
		{Expression: "request.operation != 'UPDATE' || (" + treue("oldObject") + ")",
			Message: "the treue manager changes no object that was not its own"},
	}
}

// safePod are the validations of the pod template of a workload the manager
// writes: what the accrual service and the settlement job need, nothing more.
func safePod() []admissionv1.Validation {
	all := func(list, cond string) string {
		return fmt.Sprintf("(!has(variables.pod.%[1]s) || variables.pod.%[1]s.all(c, %[2]s))", list, cond)
	}
	container := "has(c.securityContext) && has(c.securityContext.allowPrivilegeEscalation) && !c.securityContext.allowPrivilegeEscalation && " +
		"(!has(c.securityContext.privileged) || !c.securityContext.privileged) && " +
		"(!has(c.securityContext.capabilities) || !has(c.securityContext.capabilities.add) || size(c.securityContext.capabilities.add) == 0)"
	return []admissionv1.Validation{
		{Expression: "has(variables.pod.securityContext) && has(variables.pod.securityContext.runAsNonRoot) && variables.pod.securityContext.runAsNonRoot",
			Message: "a pod the treue manager asks for runs as non-root (spec.securityContext.runAsNonRoot)"},
		{Expression: "(!has(variables.pod.hostNetwork) || !variables.pod.hostNetwork) && (!has(variables.pod.hostPID) || !variables.pod.hostPID) && " +
			"(!has(variables.pod.hostIPC) || !variables.pod.hostIPC)",
			Message: "a pod the treue manager asks for uses no host namespace"},
		{Expression: all("volumes", "!has(c.hostPath)"), Message: "a pod the treue manager asks for mounts no host path"},
		{Expression: all("containers", container) + " && " + all("initContainers", container),
			Message: "the containers of a pod the treue manager asks for are unprivileged, escalate no privilege and add no capability"},
		{Expression: "has(variables.pod.serviceAccountName) && variables.pod.serviceAccountName == object.metadata.name",
			Message: "a pod the treue manager asks for runs as the service account of the workload's own name"},
	}
}

// jobRoleRules is the CEL that a Role's rules are the settlement job's, taken
// from the Role the cooperation controller writes (desiredCooperationObjects):
// the same groups, resources and verbs in the same order, and one resource name
// where the job's rule names one.
func jobRoleRules() string {
	sample := &loyaltyv1alpha1.PartnerCooperation{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "n"},
		Spec: loyaltyv1alpha1.PartnerCooperationSpec{ProgramRef: loyaltyv1alpha1.LocalObjectReference{Name: "p"}}}
	rules := desiredCooperationObjects(sample, "image", nil).Role.Rules
	parts := make([]string, 0, 1+len(rules))
	parts = append(parts, fmt.Sprintf("size(object.rules) == %d", len(rules)))
	for i, r := range rules {
		names := fmt.Sprintf("(!has(object.rules[%d].resourceNames) || size(object.rules[%d].resourceNames) == 0)", i, i)
		if len(r.ResourceNames) > 0 {
			names = fmt.Sprintf("has(object.rules[%d].resourceNames) && size(object.rules[%d].resourceNames) == %d", i, i, len(r.ResourceNames))
		}
		parts = append(parts, fmt.Sprintf("object.rules[%[1]d].apiGroups == %[2]s && object.rules[%[1]d].resources == %[3]s && "+
			"object.rules[%[1]d].verbs == %[4]s && %[5]s && !has(object.rules[%[1]d].nonResourceURLs)",
			i, celList(r.APIGroups), celList(r.Resources), celList(r.Verbs), names))
	}
	return strings.Join(parts, " && ")
}

func celString(s string) string { return "'" + strings.ReplaceAll(s, "'", "\\'") + "'" }

func celList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = celString(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
