// Placements this process has bound but the pod cache may not show yet. kube-scheduler binds
// asynchronously, so without these the next PD pod of a cluster could be judged against a stale count.
import type { Component } from '../domain/model.ts';

export interface Reservation {
  podUid: string;
  podKey: string;
  namespace: string;
  cluster: string;
  component: Component;
  nodeName: string;
  expiresAt: number;
}

export class ReservationLedger {
  private byUid = new Map<string, Reservation>();

  add(reservation: Reservation): void {
    this.byUid.set(reservation.podUid, reservation);
  }

  /** The pod cache now shows the binding (or the pod is gone): the reservation has done its job. */
  settle(podUid: string): void {
    this.byUid.delete(podUid);
  }

  /** Live reservations of one component of one cluster; expired ones are dropped on the way. */
  forMembers(namespace: string, cluster: string, component: Component, now: number): Reservation[] {
    const out: Reservation[] = [];
    for (const [uid, r] of this.byUid) {
      if (r.expiresAt <= now) {
        this.byUid.delete(uid);
        continue;
      }
      if (r.namespace === namespace && r.cluster === cluster && r.component === component) out.push(r);
    }
    return out;
  }

  get size(): number {
    return this.byUid.size;
  }
}
