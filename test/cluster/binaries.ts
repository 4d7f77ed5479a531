// Every binary the local control plane runs, by name. The recipes live in binaries-k8s.ts; PD's
// (pd-server, pd-simulator) come from binaries-pd.ts when that file exists, loaded by the build entry
// through loadRecipes() so that this module never depends on it.
import { k8sRecipes } from './binaries-k8s.ts';
import type { BinaryRecipe } from './recipe.ts';

export { KUBERNETES_VERSION } from './binaries-k8s.ts';

export const RECIPES: Record<string, BinaryRecipe> = Object.fromEntries(k8sRecipes.map((r) => [r.name, r]));

/** What `cluster:up` needs, in build order. */
export const CONTROL_PLANE = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok'] as const;

/**
 * PD's recipes from binaries-pd.ts (export `pdRecipes: BinaryRecipe[]`), or [] while that file does
 * not exist. Any other error in it is reported, not swallowed.
 */
export async function pdRecipes(): Promise<BinaryRecipe[]> {
  const specifier: string = './binaries-pd.ts';
  const url = new URL(specifier, import.meta.url);
  try {
    const mod = (await import(url.href)) as { pdRecipes?: BinaryRecipe[] };
    return mod.pdRecipes ?? [];
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { url?: string };
    // Only binaries-pd.ts itself missing counts; a missing import inside it is a real error.
    if (e.code === 'ERR_MODULE_NOT_FOUND' && (e.url === url.href || String(e.message).startsWith(`Cannot find module '${url.pathname}'`))) return [];
    throw err;
  }
}

/** All known recipes: the control plane's plus PD's when available. Later names do not override. */
export async function loadRecipes(): Promise<Record<string, BinaryRecipe>> {
  const all: Record<string, BinaryRecipe> = { ...RECIPES };
  for (const r of await pdRecipes()) all[r.name] ??= r;
  return all;
}
