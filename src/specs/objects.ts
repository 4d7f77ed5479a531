// Desired Services, ConfigMaps, StatefulSets and PodDisruptionBudgets of one component of a
// TidbCluster: pure functions of the (validated) cluster and the few decisions the controller made
// (how many replicas now, whether PD has been bootstrapped). Applied with server-side apply.
import { createHash } from 'node:crypto';
import type { ComponentName, TidbCluster } from '../cluster/schema.ts';
import { parseQuantity } from '../cluster/quantity.ts';
import { ANNOTATION_CONFIG_HASH, ANNOTATION_PD_TARGET_REPLICAS, ANNOTATION_TOPOLOGY_KEYS, meta, names, PORTS, selectorLabels, labels as allLabels } from './names.ts';
import { locationLabelsFor } from '../domain/store-labels.ts';
import { initialCluster, PATHS, pdStartScript, tidbArgs, tikvArgs } from './scripts.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace: string; [k: string]: any }; [k: string]: any };

export interface ComponentPlan {
  /** StatefulSet replicas to apply now (the scale decision's step, not necessarily spec.replicas). */
  replicas: number;
  /** PD only: PD has a leader and members; new members join instead of bootstrapping. */
  pdBootstrapped?: boolean;
  /** PD only: how many members bootstrap the cluster (the replicas when it was first created). */
  pdInitialMembers?: number;
}

type ServiceSettings = TidbCluster['spec']['pd']['service'];

function service(tc: TidbCluster, c: ComponentName, name: string, ports: Array<{ name: string; port: number }>, headless: boolean, settings?: ServiceSettings): KubeObject {
  const m = meta(tc, c, name);
  if (settings?.annotations || settings?.labels) {
    m.annotations = { ...(settings.annotations ?? {}), ...(m.annotations ?? {}) };
    m.labels = { ...(settings.labels ?? {}), ...(m.labels ?? {}) };
  }
  const type = settings?.type ?? 'ClusterIP';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: m,
    spec: {
      ...(headless
        ? { clusterIP: 'None', publishNotReadyAddresses: true }
        : {
            type,
            ...(settings?.clusterIP ? { clusterIP: settings.clusterIP } : {}),
            ...(settings?.externalTrafficPolicy && type !== 'ClusterIP' ? { externalTrafficPolicy: settings.externalTrafficPolicy } : {}),
            ...(settings?.loadBalancerIP && type === 'LoadBalancer' ? { loadBalancerIP: settings.loadBalancerIP } : {}),
            ...(settings?.loadBalancerSourceRanges && type === 'LoadBalancer' ? { loadBalancerSourceRanges: settings.loadBalancerSourceRanges } : {}),
          }),
      selector: selectorLabels(tc.metadata.name, c),
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: 'TCP' })),
    },
  };
}

export function services(tc: TidbCluster, c: ComponentName): KubeObject[] {
  const n = tc.metadata.name;
  if (c === 'pd') {
    return [
      service(tc, c, names.clientService(n, 'pd'), [{ name: 'client', port: PORTS.pdClient }], false, tc.spec.pd.service),
      // Peers must resolve each other before they are ready: PD needs its peers to become ready.
      service(tc, c, names.peerService(n, 'pd'), [{ name: 'peer', port: PORTS.pdPeer }, { name: 'client', port: PORTS.pdClient }], true),
    ];
  }
  if (c === 'tikv') return [service(tc, c, names.peerService(n, 'tikv'), [{ name: 'peer', port: PORTS.tikv }, { name: 'status', port: PORTS.tikvStatus }], true)];
  return [
    service(
      tc,
      c,
      names.clientService(n, 'tidb'),
      [{ name: 'mysql-client', port: PORTS.tidb }, ...(tc.spec.tidb.service.exposeStatus === false ? [] : [{ name: 'status', port: PORTS.tidbStatus }])],
      false,
      tc.spec.tidb.service,
    ),
    service(tc, c, names.peerService(n, 'tidb'), [{ name: 'status', port: PORTS.tidbStatus }], true),
  ];
}

const LOCATION_LABELS_KEY = /^\s*(?:["']?replication["']?\s*\.\s*)?["']?location-labels["']?\s*=/m;
const REPLICATION_HEADER = /^[ \t]*\[[ \t]*["']?replication["']?[ \t]*\][ \t]*(?:#.*)?$/m;
const REPLICATION_AT_ROOT = /^\s*["']?replication["']?\s*[.=]/m;
const TABLE_HEADER = /^\s*\[/m;

/**
 * PD's config file: the user's TOML with `location-labels` added to its [replication] table, so that
 * a new cluster's PD separates a region's replicas by zone and host from its first start (the keys
 * come from spec.pd.topologyKeys; see locationLabelsFor). The user's own location-labels win. When the
 * user defines the replication table in a way a line cannot be added to safely (dotted keys or an
 * inline table at the top level), the file is left as written. PD reads this only at its first start
 * (later the value lives in PD's storage); the controller sets it on running clusters through PD.
 */
export function pdConfigFile(user: string, locationLabels: readonly string[]): string {
  if (locationLabels.length === 0 || LOCATION_LABELS_KEY.test(user)) return user;
  const line = `location-labels = [${locationLabels.map((l) => JSON.stringify(l)).join(', ')}]`;
  const header = REPLICATION_HEADER.exec(user);
  if (header) {
    const end = header.index + header[0].length;
    return `${user.slice(0, end)}\n${line}${user.slice(end)}`;
  }
  const firstTable = TABLE_HEADER.exec(user);
  const root = firstTable ? user.slice(0, firstTable.index) : user;
  if (REPLICATION_AT_ROOT.test(root)) return user;
  const sep = user === '' || user.endsWith('\n') ? '' : '\n';
  return `${user}${sep}${user === '' ? '' : '\n'}# Added by tidb-steward: PD separates replicas by these store labels (set from the nodes' labels).\n[replication]\n${line}\n`;
}

/** The config-file (TOML, as the user wrote it; PD's with its location labels) and, for PD, the start script and bootstrap mode. */
export function configMapData(tc: TidbCluster, c: ComponentName, plan: ComponentPlan): Record<string, string> {
  const data: Record<string, string> = { 'config-file': c === 'pd' ? pdConfigFile(tc.spec.pd.config, locationLabelsFor(tc.spec.pd.topologyKeys)) : tc.spec[c].config };
  if (c === 'pd') {
    data['start-script'] = pdStartScript(tc.metadata.name, tc.metadata.namespace);
    data.mode = plan.pdBootstrapped ? 'join' : 'initial';
    data['initial-cluster'] = initialCluster(tc.metadata.name, tc.metadata.namespace, plan.pdInitialMembers ?? tc.spec.pd.replicas);
  }
  return data;
}

/** What rolls the pods when it changes: the config file and the start script, not the bootstrap mode. */
export function configHash(data: Record<string, string>): string {
  const h = createHash('sha256');
  for (const key of ['config-file', 'start-script']) if (data[key] !== undefined) h.update(`${key}\0${data[key]}\0`);
  return h.digest('hex').slice(0, 16);
}

export function configMap(tc: TidbCluster, c: ComponentName, plan: ComponentPlan): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(tc, c, names.configMap(tc.metadata.name, c)), data: configMapData(tc, c, plan) };
}

/** TiKV's --capacity: its GB/MB are binary units. */
export function tikvCapacity(size: string): string {
  const bytes = parseQuantity(size);
  if (bytes >= 2 ** 30) return `${Math.floor(bytes / 2 ** 30)}GB`;
  return `${Math.max(1, Math.floor(bytes / 2 ** 20))}MB`;
}

function resources(spec: { requests?: Record<string, string | undefined> | undefined; limits?: Record<string, string | undefined> | undefined }) {
  const r: Record<string, Record<string, string>> = {};
  if (spec.requests && Object.keys(spec.requests).length) r.requests = { ...spec.requests } as Record<string, string>;
  if (spec.limits && Object.keys(spec.limits).length) r.limits = { ...spec.limits } as Record<string, string>;
  return r;
}

/** The slow-log sidecar's image when spec.tidb.slowLogTailer.image is not set. */
export const SLOW_LOG_TAILER_IMAGE = 'busybox:1.36';

/** A storageVolumes entry as claimed and mounted: claim name <component>-<name>, as PingCAP's operator names it. */
function storageVolumesOf(tc: TidbCluster, c: ComponentName): Array<{ claim: string; mountPath: string; storageClassName: string | undefined; storageSize: string }> {
  if (c === 'tidb') return [];
  return (tc.spec[c].storageVolumes ?? []).map((v) => ({ claim: `${c}-${v.name}`, mountPath: v.mountPath ?? `/var/lib/${c}-${v.name}`, storageClassName: v.storageClassName ?? tc.spec[c].storageClassName, storageSize: v.storageSize }));
}

/** PingCAP's readinessProbe: tcp checks the main port; command keeps the component's own check; timings override ours. */
function probe(p: TidbCluster['spec']['pd']['readinessProbe'], own: any, port: number): any {
  if (!p) return own;
  const base = p.type === 'tcp' ? { tcpSocket: { port } } : Object.fromEntries(Object.entries(own).filter(([k]) => ['tcpSocket', 'httpGet', 'exec'].includes(k)));
  const { type: _t, ...timings } = p;
  return { ...base, periodSeconds: own.periodSeconds, ...timings };
}

export function image(tc: TidbCluster, c: ComponentName): string {
  return tc.spec[c].image ?? `pingcap/${c}:${tc.spec.version}`;
}

export function statefulSet(tc: TidbCluster, c: ComponentName, plan: ComponentPlan): KubeObject {
  const n = tc.metadata.name;
  const ns = tc.metadata.namespace;
  const spec = tc.spec[c];
  // The hash of the file as the user wrote it: what tidb-steward adds to PD's only matters at PD's
  // first start, and rolling every PD pod when it changes (or when tidb-steward is upgraded) would buy nothing.
  // InPlace (PingCAP's configUpdateStrategy): the ConfigMap changes, pods read it at their next restart.
  const inPlace = tc.spec.configUpdateStrategy === 'InPlace';
  const hash = configHash({ ...configMapData(tc, c, plan), 'config-file': inPlace ? '' : spec.config });
  const env: any[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ...(tc.spec.timezone ? [{ name: 'TZ', value: tc.spec.timezone }] : []),
    ...(spec.env ?? []),
  ];
  const configVolume = { name: 'config', configMap: { name: names.configMap(n, c), items: [{ key: 'config-file', path: 'config-file' }] } };
  const mounts: any[] = [{ name: 'config', mountPath: PATHS.config(c), readOnly: true }];
  const volumes: any[] = [configVolume];
  let container: any;
  if (c === 'pd') {
    volumes.push(
      { name: 'start-script', configMap: { name: names.configMap(n, c), items: [{ key: 'start-script', path: 'start.sh' }] } },
      { name: 'bootstrap', configMap: { name: names.configMap(n, c), items: [{ key: 'mode', path: 'mode' }, { key: 'initial-cluster', path: 'initial-cluster' }] } },
    );
    mounts.push({ name: 'start-script', mountPath: '/usr/local/bin', readOnly: true }, { name: 'bootstrap', mountPath: PATHS.bootstrap, readOnly: true }, { name: 'pd', mountPath: PATHS.pdData });
    container = {
      name: 'pd',
      command: ['/bin/sh', PATHS.script],
      ports: [{ name: 'client', containerPort: PORTS.pdClient }, { name: 'peer', containerPort: PORTS.pdPeer }],
      readinessProbe: { tcpSocket: { port: PORTS.pdClient }, periodSeconds: 5 },
    };
  } else if (c === 'tikv') {
    mounts.push({ name: 'tikv', mountPath: PATHS.tikvData });
    container = {
      name: 'tikv',
      command: ['/tikv-server'],
      args: tikvArgs(n, ns, tikvCapacity(tc.spec.tikv.storageSize)),
      ports: [{ name: 'server', containerPort: PORTS.tikv }, { name: 'status', containerPort: PORTS.tikvStatus }],
      readinessProbe: { tcpSocket: { port: PORTS.tikv }, periodSeconds: 5 },
    };
  } else {
    if (tc.spec.tidb.separateSlowLog) {
      volumes.push({ name: 'slowlog', emptyDir: {} });
      mounts.push({ name: 'slowlog', mountPath: PATHS.slowLogDir });
    }
    container = {
      name: 'tidb',
      command: ['/tidb-server'],
      args: [...tidbArgs(n, ns), ...(tc.spec.tidb.separateSlowLog ? [`--log-slow-query=${PATHS.slowLogDir}/slowlog`] : [])],
      ports: [{ name: 'mysql-client', containerPort: PORTS.tidb }, { name: 'status', containerPort: PORTS.tidbStatus }],
      readinessProbe: { httpGet: { path: '/status', port: PORTS.tidbStatus }, periodSeconds: 5 },
    };
  }
  for (const v of storageVolumesOf(tc, c)) mounts.push({ name: v.claim, mountPath: v.mountPath });
  mounts.push(...(spec.additionalVolumeMounts ?? []));
  volumes.push(...(spec.additionalVolumes ?? []));
  container = { ...container, readinessProbe: probe(spec.readinessProbe, container.readinessProbe, container.ports[0].containerPort) };
  container = { ...container, image: image(tc, c), imagePullPolicy: spec.imagePullPolicy ?? 'IfNotPresent', env, resources: resources(spec), volumeMounts: mounts };
  const containers: any[] = [container];
  if (c === 'tidb' && tc.spec.tidb.separateSlowLog) {
    const tailer = tc.spec.tidb.slowLogTailer;
    containers.push({
      name: 'slowlog',
      image: tailer?.image ?? SLOW_LOG_TAILER_IMAGE,
      imagePullPolicy: tailer?.imagePullPolicy ?? spec.imagePullPolicy ?? 'IfNotPresent',
      command: ['sh', '-c', `touch ${PATHS.slowLogDir}/slowlog; tail -n0 -F ${PATHS.slowLogDir}/slowlog`],
      resources: resources(tailer ?? {}),
      volumeMounts: [{ name: 'slowlog', mountPath: PATHS.slowLogDir }],
    });
  }
  containers.push(...(spec.additionalContainers ?? []));
  const annotations: Record<string, string> = { ...(spec.annotations ?? {}), [ANNOTATION_CONFIG_HASH]: hash };
  if (c === 'pd' && tc.spec.pd.topologyKeys?.length) annotations[ANNOTATION_TOPOLOGY_KEYS] = tc.spec.pd.topologyKeys.join(',');
  const claim = (name: string, storageClassName: string | undefined, size: string) => ({
    metadata: { name, labels: allLabels(n, c) },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(storageClassName ? { storageClassName } : {}),
      resources: { requests: { storage: size } },
    },
  });
  const claims = c === 'tidb' ? [] : [claim(names.volume(c), tc.spec[c].storageClassName, tc.spec[c].storageSize), ...storageVolumesOf(tc, c).map((v) => claim(v.claim, v.storageClassName, v.storageSize))];
  // Volumes of removed members follow spec.pvReclaimPolicy through the StatefulSet's own retention
  // policy; a suspended cluster scales to zero and must keep them, whatever the policy.
  const reclaim = (tc.spec.pvReclaimPolicy === 'Delete' || tc.spec.enablePVReclaim === true) && !tc.spec.suspend ? 'Delete' : 'Retain';
  // The PD count the controller is scaling to, for the extender's step rule (stepCount in
  // domain/placement.ts). On the StatefulSet, not its pod template: a template change rolls every pod.
  const stsMeta = c === 'pd' ? meta(tc, c, names.statefulSet(n, c), { annotations: { [ANNOTATION_PD_TARGET_REPLICAS]: String(tc.spec.pd.replicas) } }) : meta(tc, c, names.statefulSet(n, c));
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: stsMeta,
    spec: {
      replicas: plan.replicas,
      serviceName: names.peerService(n, c),
      // PD members must start together to bootstrap; members are added and removed by the controller
      // one at a time anyway.
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      selector: { matchLabels: selectorLabels(n, c) },
      ...(c === 'tidb' ? {} : { persistentVolumeClaimRetentionPolicy: { whenDeleted: tc.spec.pvReclaimPolicy === 'Delete' ? 'Delete' : 'Retain', whenScaled: reclaim } }),
      template: {
        metadata: { labels: { ...(spec.labels ?? {}), ...allLabels(n, c) }, annotations },
        spec: {
          ...(c === 'tidb' ? {} : { schedulerName: tc.spec.schedulerName }),
          terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? (c === 'tikv' ? 120 : 30),
          ...(spec.initContainers?.length ? { initContainers: spec.initContainers } : {}),
          containers,
          ...(spec.podSecurityContext ? { securityContext: spec.podSecurityContext } : {}),
          ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName } : {}),
          ...(spec.serviceAccount ? { serviceAccountName: spec.serviceAccount } : {}),
          ...(spec.topologySpreadConstraints?.length ? { topologySpreadConstraints: spec.topologySpreadConstraints.map((k) => ({ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule', ...k, labelSelector: { matchLabels: selectorLabels(n, c) } })) } : {}),
          volumes,
          ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
          ...(spec.tolerations ? { tolerations: spec.tolerations } : {}),
          ...(spec.affinity ? { affinity: spec.affinity } : {}),
        },
      },
      ...(c === 'tidb' ? {} : { volumeClaimTemplates: claims }),
    },
  };
}

/** PD and TiKV: one member down at a time, whoever asks (kubectl drain, cluster autoscaler, ...). */
export function podDisruptionBudget(tc: TidbCluster, c: ComponentName): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(tc, c, names.pdb(tc.metadata.name, c)),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(tc.metadata.name, c) } },
  };
}

/** Everything one component needs, in the order to apply it. */
export function componentObjects(tc: TidbCluster, c: ComponentName, plan: ComponentPlan): KubeObject[] {
  return [...services(tc, c), configMap(tc, c, plan), statefulSet(tc, c, plan), podDisruptionBudget(tc, c)];
}
