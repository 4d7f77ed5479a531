// The hand-over a member needs before it goes (PD leadership moved, TiKV leaders evicted), as the
// drain webhooks work it out. Whether it may go at all is the disruption authority's call
// (services/authority.ts), which the controller asks, and records with, before it acts.
import { decidePdRemoval, decideTikvRemoval, type DrainDecision, type PdState, type TikvState } from './drain.ts';

export type RemovalRequest =
  | { component: 'pd'; pod: string; pd: PdState }
  | { component: 'tikv'; pod: string; tikv: TikvState; evictTimeoutMs: number; now: number };

export function mayRemoveMember(req: RemovalRequest): DrainDecision {
  if (req.component === 'pd') return decidePdRemoval(req.pod, req.pd);
  return decideTikvRemoval(req.pod, req.tikv, { evictTimeoutMs: req.evictTimeoutMs, now: req.now });
}
