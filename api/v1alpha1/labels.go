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

package v1alpha1

// Labels and annotations that treue reads or writes: each is defined here once.
// Objects the operator creates carry the Kubernetes recommended labels
// (app.kubernetes.io/*) and treue's own under loyalty.treue.dev/.

// Kubernetes recommended labels, on every object the operator creates.
const (
	// LabelAppName names the application: "treue-accrual" or "treue-settle".
	LabelAppName = "app.kubernetes.io/name"
	// LabelAppInstance names the program or cooperation the object serves.
	LabelAppInstance = "app.kubernetes.io/instance"
	// LabelAppComponent names the component: "accrual" or "settlement".
	LabelAppComponent = "app.kubernetes.io/component"
	// LabelManagedBy is ManagedByTreue on what the operator created; the manager's
	// cache of Secrets holds only those.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByTreue is LabelManagedBy's value.
	ManagedByTreue = "treue"
)

// treue's own labels.
const (
	// LabelProgram names the LoyaltyProgram an object belongs to (the accrual
	// service's objects, a partner's credentials Secret).
	LabelProgram = "loyalty.treue.dev/program"
	// LabelProgramNamespace is the namespace of LabelProgram, on objects in another
	// namespace (a partner's credentials Secret).
	LabelProgramNamespace = "loyalty.treue.dev/program-namespace"
	// LabelPartner names the Partner a credentials Secret belongs to.
	LabelPartner = "loyalty.treue.dev/partner"
	// LabelCooperation names the PartnerCooperation an object belongs to: its
	// settlement CronJob and RBAC, and every Settlement the job records, by which
	// the cooperation finds its last settlement.
	LabelCooperation = "loyalty.treue.dev/cooperation"
	// LabelMonitoring on a namespace lets its scrapers read accrual services'
	// metrics through their NetworkPolicy.
	LabelMonitoring = "loyalty.treue.dev/monitoring"
)

// Annotations.
const (
	// AnnotationRotateCredentials on a Partner asks for new API keys: set it to a
	// new value (such as the date) to rotate.
	AnnotationRotateCredentials = "loyalty.treue.dev/rotate-credentials"
	// AnnotationRotation on a credentials Secret records the rotation it carries.
	AnnotationRotation = "loyalty.treue.dev/rotation"
	// AnnotationConfigHash on an accrual pod template rolls the pods when the
	// rendered configuration (rules, partners, credentials) changes: rule changes
	// arrive by rolling restart.
	AnnotationConfigHash = "loyalty.treue.dev/config-hash"
	// AnnotationApplied on an object the operator owns fingerprints the desired
	// state it last applied, so that an unchanged object is not written again.
	AnnotationApplied = "loyalty.treue.dev/applied"
)
