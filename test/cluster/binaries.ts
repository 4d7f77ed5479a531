// Every binary the local control plane runs, pinned. A version bump changes the cache key.
import type { BinaryRecipe } from './recipe.ts';

export const KUBERNETES_VERSION = 'v1.36.3';

const k8sVersionFlags = (['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'] as const).flatMap((p) => [
  `-X ${p}.gitVersion=${KUBERNETES_VERSION}`,
  `-X ${p}.gitMajor=1`,
  `-X ${p}.gitMinor=36`,
  `-X ${p}.gitTreeState=clean`,
]);

const k8s = (name: string): BinaryRecipe => ({
  name,
  version: KUBERNETES_VERSION,
  module: 'kubernetes',
  pkg: `k8s.io/kubernetes/cmd/${name}`,
  ldflags: k8sVersionFlags,
});

export const RECIPES: Record<string, BinaryRecipe> = {
  'kube-apiserver': k8s('kube-apiserver'),
  'kube-controller-manager': k8s('kube-controller-manager'),
  'kube-scheduler': k8s('kube-scheduler'),
  kubectl: k8s('kubectl'),
  etcd: { name: 'etcd', version: 'v3.6.16', module: 'etcd', pkg: 'go.etcd.io/etcd/server/v3' },
  kwok: { name: 'kwok', version: 'v0.8.0', module: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok' },
};

export const CONTROL_PLANE = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok'] as const;
// PD (pd-server, pd-simulator) is not built: the Go module proxy reachable here answers 403 "This
// module version is not available" for github.com/tikv/pd, github.com/tikv/pd/tools,
// github.com/pingcap/tidb-dashboard and github.com/pingcap/kvproto. See the README.
