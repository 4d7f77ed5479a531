// Every binary the local control plane builds, by name (recipes in binaries-k8s.ts). PD is not among
// them: pd-server and pd-simulator come from the user (PD_BIN_DIR, see test/cluster/pd.ts).
import { k8sRecipes } from './binaries-k8s.ts';
import type { BinaryRecipe } from './recipe.ts';

export { KUBERNETES_VERSION } from './binaries-k8s.ts';

export const RECIPES: Record<string, BinaryRecipe> = Object.fromEntries(k8sRecipes.map((r) => [r.name, r]));

/** What `cluster:up` needs, in build order. */
export const CONTROL_PLANE = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok'] as const;
