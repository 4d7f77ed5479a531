// The one place where the controller asks whether a member may leave now: every member it removes
// (PD scale-in, TiKV scale-in, suspend) goes through mayRemoveMember, which asks the drain policy, so
// that a node drain and a scale-in are judged by the same rules.
import { decidePdRemoval, decideTikvRemoval, type DrainDecision, type PdState, type TikvState } from './drain.ts';

export type RemovalRequest =
  | { component: 'pd'; pod: string; pd: PdState }
  | { component: 'tikv'; pod: string; tikv: TikvState; evictTimeoutMs: number; now: number };

export function mayRemoveMember(req: RemovalRequest): DrainDecision {
  if (req.component === 'pd') return decidePdRemoval(req.pod, req.pd);
  return decideTikvRemoval(req.pod, req.tikv, { evictTimeoutMs: req.evictTimeoutMs, now: req.now });
}
