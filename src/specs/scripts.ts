// Start-up scripts and arguments of PD, TiKV and TiDB, as their binaries take them. Each member
// advertises the stable DNS name of its pod (<pod>.<cluster>-<component>-peer.<ns>.svc), so an address
// survives the pod being recreated on another node.
//
// PD: the members created with the cluster bootstrap it together with --initial-cluster (every initial
// member listed); a member added later, or any member once PD has been bootstrapped and whose data dir
// is empty, joins the running cluster with --join through PD's client Service. A member that finds its
// data dir starts from it (its membership is recorded there). The bootstrap mode is read from the
// ConfigMap at start-up, so switching it does not roll the pods.
import { names, pdClientUrl, podFqdn, PORTS } from './names.ts';

export const PATHS = {
  pdData: '/var/lib/pd',
  tikvData: '/var/lib/tikv',
  config: (c: string) => `/etc/${c}`,
  script: '/usr/local/bin/start.sh',
  bootstrap: '/etc/pd-bootstrap',
  /** TiDB's slow query log, shared with the slowlog sidecar (separateSlowLog). */
  slowLogDir: '/var/log/tidb',
};

/** --initial-cluster value for the first `count` PD members. */
export function initialCluster(tc: string, namespace: string, count: number): string {
  return Array.from({ length: count }, (_, i) => {
    const pod = names.pod(tc, 'pd', i);
    return `${pod}=http://${podFqdn(tc, namespace, 'pd', pod)}:${PORTS.pdPeer}`;
  }).join(',');
}

export function pdStartScript(tc: string, namespace: string): string {
  const peer = `\${POD_NAME}.${names.peerService(tc, 'pd')}.${namespace}.svc`;
  return [
    '#!/bin/sh',
    `# Written by tidb-steward: starts one PD member of ${namespace}/${tc}.`,
    'set -eu',
    `ARGS="--name=\${POD_NAME} --data-dir=${PATHS.pdData} --config=${PATHS.config('pd')}/config-file`,
    `  --client-urls=http://0.0.0.0:${PORTS.pdClient} --advertise-client-urls=http://${peer}:${PORTS.pdClient}`,
    `  --peer-urls=http://0.0.0.0:${PORTS.pdPeer} --advertise-peer-urls=http://${peer}:${PORTS.pdPeer}"`,
    `if [ -d ${PATHS.pdData}/member/wal ]; then`,
    '  : # restart: the membership is in the data dir',
    `elif [ "$(cat ${PATHS.bootstrap}/mode)" = "initial" ] && echo ",$(cat ${PATHS.bootstrap}/initial-cluster)" | grep -q ",\${POD_NAME}="; then`,
    `  ARGS="$ARGS --initial-cluster=$(cat ${PATHS.bootstrap}/initial-cluster)"`,
    'else',
    `  ARGS="$ARGS --join=${pdClientUrl(tc, namespace)}"`,
    'fi',
    'exec /pd-server $ARGS',
    '',
  ].join('\n');
}

export function tikvArgs(tc: string, namespace: string, capacity: string): string[] {
  const self = `$(POD_NAME).${names.peerService(tc, 'tikv')}.${namespace}.svc`;
  return [
    `--pd=${pdClientUrl(tc, namespace)}`,
    `--addr=0.0.0.0:${PORTS.tikv}`,
    `--advertise-addr=${self}:${PORTS.tikv}`,
    `--status-addr=0.0.0.0:${PORTS.tikvStatus}`,
    `--advertise-status-addr=${self}:${PORTS.tikvStatus}`,
    `--data-dir=${PATHS.tikvData}`,
    `--capacity=${capacity}`,
    `--config=${PATHS.config('tikv')}/config-file`,
  ];
}

export function tidbArgs(tc: string, namespace: string): string[] {
  return [
    '--store=tikv',
    `--path=${names.clientService(tc, 'pd')}.${namespace}.svc:${PORTS.pdClient}`,
    `--advertise-address=$(POD_NAME).${names.peerService(tc, 'tidb')}.${namespace}.svc`,
    '--host=0.0.0.0',
    `-P=${PORTS.tidb}`,
    `--status=${PORTS.tidbStatus}`,
    `--config=${PATHS.config('tidb')}/config-file`,
  ];
}
