package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotations of the shard Leases.
const (
	// LabelShard is "member" on a member Lease, "environment" on an
	// environment Lease; the value of LabelGroup tells shard groups apart.
	LabelShard = "digitops.io/shard"
	LabelGroup = "digitops.io/shard-group"
	// AnnotationName is the environment name or member identity a Lease
	// stands for (Lease names are sanitized).
	AnnotationName = "digitops.io/name"
	// AnnotationAddress is the URL other replicas reach a member's HTTP
	// API at.
	AnnotationAddress = "digitops.io/address"
)

const (
	kindMember      = "member"
	kindEnvironment = "environment"
)

// leaseName is a valid, collision-free Lease name for one member or
// environment: a readable prefix of the sanitized name and 10 hex digits of
// its SHA-256 (names are untrusted and may be long or odd).
func leaseName(kind, name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	sum := sha256.Sum256([]byte(name))
	return "digitops-" + kind + "-" + strings.Trim(b.String(), "-") + "-" + hex.EncodeToString(sum[:5])
}

// leaseFor is a new Lease for kind and name, held by holder.
func leaseFor(namespace, group, kind, name, holder, address string, duration time.Duration, now time.Time) *coordinationv1.Lease {
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace,
			Name:      leaseName(kind, name),
			Labels: map[string]string{
				"app.kubernetes.io/managed-by": "digitops",
				LabelShard:                     kind,
				LabelGroup:                     group,
			},
			Annotations: map[string]string{AnnotationName: name},
		},
	}
	if address != "" {
		l.Annotations[AnnotationAddress] = address
	}
	hold(l, holder, duration, now)
	return l
}

// hold makes holder the holder of l as of now.
func hold(l *coordinationv1.Lease, holder string, duration time.Duration, now time.Time) {
	secs := int32(duration / time.Second)
	t := metav1.NewMicroTime(now)
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != holder {
		if l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
			n := int32(1)
			if l.Spec.LeaseTransitions != nil {
				n = *l.Spec.LeaseTransitions + 1
			}
			l.Spec.LeaseTransitions = &n
		}
		l.Spec.AcquireTime = &t
	}
	l.Spec.HolderIdentity = &holder
	l.Spec.LeaseDurationSeconds = &secs
	l.Spec.RenewTime = &t
}

// holder is the holder of l, "" when released or expired at now.
func holder(l *coordinationv1.Lease, now time.Time) string {
	if l.Spec.HolderIdentity == nil || l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return ""
	}
	end := l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)
	if !now.Before(end) {
		return ""
	}
	return *l.Spec.HolderIdentity
}
