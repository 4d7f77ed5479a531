// The Kubernetes control-plane binaries, etcd and kwok, pinned. A version bump changes the cache key,
// so the next cluster:build rebuilds. Each names a wrapper module under test/cluster/go/.
import type { BinaryRecipe } from './recipe.ts';

/** Newest v1.36 patch on the module proxy whose `go` directive (1.26.0) the local Go accepts. */
export const KUBERNETES_VERSION = 'v1.36.3';
export const ETCD_VERSION = 'v3.6.16';
export const KWOK_VERSION = 'v0.8.0';

const [, major = '1', minor = '36'] = /^v(\d+)\.(\d+)\./.exec(KUBERNETES_VERSION) ?? [];

// Without these the binaries report v0.0.0-master+$Format:%H$ (names checked in component-base and
// client-go v0.36.3: version/base.go, pkg/version/base.go).
const k8sVersionFlags = (['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'] as const).flatMap((p) => [
  `-X ${p}.gitVersion=${KUBERNETES_VERSION}`,
  `-X ${p}.gitMajor=${major}`,
  `-X ${p}.gitMinor=${minor}`,
  `-X ${p}.gitTreeState=clean`,
]);

const k8s = (name: string): BinaryRecipe => ({
  name,
  version: KUBERNETES_VERSION,
  module: 'kubernetes',
  pkg: `k8s.io/kubernetes/cmd/${name}`,
  ldflags: k8sVersionFlags,
});

export const k8sRecipes: BinaryRecipe[] = [
  { name: 'etcd', version: ETCD_VERSION, module: 'etcd', pkg: 'go.etcd.io/etcd/server/v3' },
  k8s('kube-apiserver'),
  k8s('kube-controller-manager'),
  k8s('kube-scheduler'),
  k8s('kubectl'),
  { name: 'kwok', version: KWOK_VERSION, module: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok' },
];
