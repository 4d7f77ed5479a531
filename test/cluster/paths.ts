// Where the local control plane keeps things: binaries in a per-user cache outside the checkout (so a
// fresh clone and CI reuse them), run state in .cluster/ inside it.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BinaryRecipe } from './recipe.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const STATE = process.env.TIDB_STEWARD_CLUSTER_DIR ?? join(REPO, '.cluster');
export const CACHE = process.env.TIDB_STEWARD_CACHE ?? join(homedir(), '.cache', 'tidb-steward');
export const GO_MODULES = join(REPO, 'test', 'cluster', 'go');

export function binaryPath(recipe: Pick<BinaryRecipe, 'name' | 'version'>): string {
  return join(CACHE, 'bin', `${recipe.name}-${recipe.version}`, recipe.name);
}
