/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/specs/objects.test.ts > TAP > snapshots of every object of a default cluster > pd 1`] = `
Array [
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "ports": Array [
        Object {
          "name": "client",
          "port": 2379,
          "protocol": "TCP",
          "targetPort": 2379,
        },
      ],
      "selector": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
      "type": "ClusterIP",
    },
  },
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-pd-peer",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "clusterIP": "None",
      "ports": Array [
        Object {
          "name": "peer",
          "port": 2380,
          "protocol": "TCP",
          "targetPort": 2380,
        },
        Object {
          "name": "client",
          "port": 2379,
          "protocol": "TCP",
          "targetPort": 2379,
        },
      ],
      "publishNotReadyAddresses": true,
      "selector": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
    },
  },
  Object {
    "apiVersion": "v1",
    "data": Object {
      "config-file": String(
        # Added by tidb-steward: PD separates replicas by these store labels (set from the nodes' labels).
        [replication]
        location-labels = ["zone", "host"]
        
      ),
      "initial-cluster": "basic-pd-0=http://basic-pd-0.basic-pd-peer.db.svc:2380,basic-pd-1=http://basic-pd-1.basic-pd-peer.db.svc:2380,basic-pd-2=http://basic-pd-2.basic-pd-peer.db.svc:2380",
      "mode": "initial",
      "start-script": String(
        #!/bin/sh
        # Written by tidb-steward: starts one PD member of db/basic.
        set -eu
        ARGS="--name=\${POD_NAME} --data-dir=/var/lib/pd --config=/etc/pd/config-file
          --client-urls=http://0.0.0.0:2379 --advertise-client-urls=http://\${POD_NAME}.basic-pd-peer.db.svc:2379
          --peer-urls=http://0.0.0.0:2380 --advertise-peer-urls=http://\${POD_NAME}.basic-pd-peer.db.svc:2380"
        if [ -d /var/lib/pd/member/wal ]; then
          : # restart: the membership is in the data dir
        elif [ "$(cat /etc/pd-bootstrap/mode)" = "initial" ] && echo ",$(cat /etc/pd-bootstrap/initial-cluster)" | grep -q ",\${POD_NAME}="; then
          ARGS="$ARGS --initial-cluster=$(cat /etc/pd-bootstrap/initial-cluster)"
        else
          ARGS="$ARGS --join=http://basic-pd.db.svc:2379"
        fi
        exec /pd-server $ARGS
        
      ),
    },
    "kind": "ConfigMap",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
  },
  Object {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": Object {
      "annotations": Object {
        "tidb-steward.dev/pd-target-replicas": "3",
      },
      "labels": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "persistentVolumeClaimRetentionPolicy": Object {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
      },
      "podManagementPolicy": "Parallel",
      "replicas": 3,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "pd",
          "app.kubernetes.io/instance": "basic",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
      "serviceName": "basic-pd-peer",
      "template": Object {
        "metadata": Object {
          "annotations": Object {
            "tidb-steward.dev/config-hash": "7de7efc538632f20",
          },
          "labels": Object {
            "app.kubernetes.io/component": "pd",
            "app.kubernetes.io/instance": "basic",
            "app.kubernetes.io/managed-by": "tidb-steward",
            "app.kubernetes.io/name": "tidb-cluster",
            "app.kubernetes.io/part-of": "tidb",
          },
        },
        "spec": Object {
          "containers": Array [
            Object {
              "command": Array [
                "/bin/sh",
                "/usr/local/bin/start.sh",
              ],
              "env": Array [
                Object {
                  "name": "POD_NAME",
                  "valueFrom": Object {
                    "fieldRef": Object {
                      "fieldPath": "metadata.name",
                    },
                  },
                },
                Object {
                  "name": "NAMESPACE",
                  "valueFrom": Object {
                    "fieldRef": Object {
                      "fieldPath": "metadata.namespace",
                    },
                  },
                },
              ],
              "image": "pingcap/pd:v8.5.4",
              "imagePullPolicy": "IfNotPresent",
              "name": "pd",
              "ports": Array [
                Object {
                  "containerPort": 2379,
                  "name": "client",
                },
                Object {
                  "containerPort": 2380,
                  "name": "peer",
                },
              ],
              "readinessProbe": Object {
                "periodSeconds": 5,
                "tcpSocket": Object {
                  "port": 2379,
                },
              },
              "resources": Object {},
              "volumeMounts": Array [
                Object {
                  "mountPath": "/etc/pd",
                  "name": "config",
                  "readOnly": true,
                },
                Object {
                  "mountPath": "/usr/local/bin",
                  "name": "start-script",
                  "readOnly": true,
                },
                Object {
                  "mountPath": "/etc/pd-bootstrap",
                  "name": "bootstrap",
                  "readOnly": true,
                },
                Object {
                  "mountPath": "/var/lib/pd",
                  "name": "pd",
                },
              ],
            },
          ],
          "schedulerName": "tidb-scheduler",
          "terminationGracePeriodSeconds": 30,
          "volumes": Array [
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "config-file",
                    "path": "config-file",
                  },
                ],
                "name": "basic-pd",
              },
              "name": "config",
            },
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "start-script",
                    "path": "start.sh",
                  },
                ],
                "name": "basic-pd",
              },
              "name": "start-script",
            },
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "mode",
                    "path": "mode",
                  },
                  Object {
                    "key": "initial-cluster",
                    "path": "initial-cluster",
                  },
                ],
                "name": "basic-pd",
              },
              "name": "bootstrap",
            },
          ],
        },
      },
      "updateStrategy": Object {
        "rollingUpdate": Object {
          "partition": 0,
        },
        "type": "RollingUpdate",
      },
      "volumeClaimTemplates": Array [
        Object {
          "metadata": Object {
            "labels": Object {
              "app.kubernetes.io/component": "pd",
              "app.kubernetes.io/instance": "basic",
              "app.kubernetes.io/managed-by": "tidb-steward",
              "app.kubernetes.io/name": "tidb-cluster",
              "app.kubernetes.io/part-of": "tidb",
            },
            "name": "pd",
          },
          "spec": Object {
            "accessModes": Array [
              "ReadWriteOnce",
            ],
            "resources": Object {
              "requests": Object {
                "storage": "10Gi",
              },
            },
          },
        },
      ],
    },
  },
  Object {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "maxUnavailable": 1,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "pd",
          "app.kubernetes.io/instance": "basic",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
    },
  },
]
`

exports[`test/specs/objects.test.ts > TAP > snapshots of every object of a default cluster > tidb 1`] = `
Array [
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "ports": Array [
        Object {
          "name": "mysql-client",
          "port": 4000,
          "protocol": "TCP",
          "targetPort": 4000,
        },
        Object {
          "name": "status",
          "port": 10080,
          "protocol": "TCP",
          "targetPort": 10080,
        },
      ],
      "selector": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
      "type": "ClusterIP",
    },
  },
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-tidb-peer",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "clusterIP": "None",
      "ports": Array [
        Object {
          "name": "status",
          "port": 10080,
          "protocol": "TCP",
          "targetPort": 10080,
        },
      ],
      "publishNotReadyAddresses": true,
      "selector": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
    },
  },
  Object {
    "apiVersion": "v1",
    "data": Object {
      "config-file": "",
    },
    "kind": "ConfigMap",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
  },
  Object {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "podManagementPolicy": "Parallel",
      "replicas": 2,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tidb",
          "app.kubernetes.io/instance": "basic",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
      "serviceName": "basic-tidb-peer",
      "template": Object {
        "metadata": Object {
          "annotations": Object {
            "tidb-steward.dev/config-hash": "95985ab3a980cc20",
          },
          "labels": Object {
            "app.kubernetes.io/component": "tidb",
            "app.kubernetes.io/instance": "basic",
            "app.kubernetes.io/managed-by": "tidb-steward",
            "app.kubernetes.io/name": "tidb-cluster",
            "app.kubernetes.io/part-of": "tidb",
          },
        },
        "spec": Object {
          "containers": Array [
            Object {
              "args": Array [
                "--store=tikv",
                "--path=basic-pd.db.svc:2379",
                "--advertise-address=$(POD_NAME).basic-tidb-peer.db.svc",
                "--host=0.0.0.0",
                "-P=4000",
                "--status=10080",
                "--config=/etc/tidb/config-file",
                "--log-slow-query=/var/log/tidb/slowlog",
              ],
              "command": Array [
                "/tidb-server",
              ],
              "env": Array [
                Object {
                  "name": "POD_NAME",
                  "valueFrom": Object {
                    "fieldRef": Object {
                      "fieldPath": "metadata.name",
                    },
                  },
                },
                Object {
                  "name": "NAMESPACE",
                  "valueFrom": Object {
                    "fieldRef": Object {
                      "fieldPath": "metadata.namespace",
                    },
                  },
                },
              ],
              "image": "pingcap/tidb:v8.5.4",
              "imagePullPolicy": "IfNotPresent",
              "name": "tidb",
              "ports": Array [
                Object {
                  "containerPort": 4000,
                  "name": "mysql-client",
                },
                Object {
                  "containerPort": 10080,
                  "name": "status",
                },
              ],
              "readinessProbe": Object {
                "httpGet": Object {
                  "path": "/status",
                  "port": 10080,
                },
                "periodSeconds": 5,
              },
              "resources": Object {},
              "volumeMounts": Array [
                Object {
                  "mountPath": "/etc/tidb",
                  "name": "config",
                  "readOnly": true,
                },
                Object {
                  "mountPath": "/var/log/tidb",
                  "name": "slowlog",
                },
              ],
            },
            Object {
              "command": Array [
                "sh",
                "-c",
                "touch /var/log/tidb/slowlog; tail -n0 -F /var/log/tidb/slowlog",
              ],
              "image": "busybox:1.36",
              "imagePullPolicy": "IfNotPresent",
              "name": "slowlog",
              "resources": Object {},
              "volumeMounts": Array [
                Object {
                  "mountPath": "/var/log/tidb",
                  "name": "slowlog",
                },
              ],
            },
          ],
          "terminationGracePeriodSeconds": 30,
          "volumes": Array [
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "config-file",
                    "path": "config-file",
                  },
                ],
                "name": "basic-tidb",
              },
              "name": "config",
            },
            Object {
              "emptyDir": Object {},
              "name": "slowlog",
            },
          ],
        },
      },
      "updateStrategy": Object {
        "rollingUpdate": Object {
          "partition": 0,
        },
        "type": "RollingUpdate",
      },
    },
  },
  Object {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "maxUnavailable": 1,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tidb",
          "app.kubernetes.io/instance": "basic",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
    },
  },
]
`

exports[`test/specs/objects.test.ts > TAP > snapshots of every object of a default cluster > tikv 1`] = `
Array [
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tikv",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-tikv-peer",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "clusterIP": "None",
      "ports": Array [
        Object {
          "name": "peer",
          "port": 20160,
          "protocol": "TCP",
          "targetPort": 20160,
        },
        Object {
          "name": "status",
          "port": 20180,
          "protocol": "TCP",
          "targetPort": 20180,
        },
      ],
      "publishNotReadyAddresses": true,
      "selector": Object {
        "app.kubernetes.io/component": "tikv",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
    },
  },
  Object {
    "apiVersion": "v1",
    "data": Object {
      "config-file": "",
    },
    "kind": "ConfigMap",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tikv",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-tikv",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
  },
  Object {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tikv",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-tikv",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "persistentVolumeClaimRetentionPolicy": Object {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
      },
      "podManagementPolicy": "Parallel",
      "replicas": 3,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tikv",
          "app.kubernetes.io/instance": "basic",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
      "serviceName": "basic-tikv-peer",
      "template": Object {
        "metadata": Object {
          "annotations": Object {
            "tidb-steward.dev/config-hash": "95985ab3a980cc20",
          },
          "labels": Object {
            "app.kubernetes.io/component": "tikv",
            "app.kubernetes.io/instance": "basic",
            "app.kubernetes.io/managed-by": "tidb-steward",
            "app.kubernetes.io/name": "tidb-cluster",
            "app.kubernetes.io/part-of": "tidb",
          },
        },
        "spec": Object {
          "containers": Array [
            Object {
              "args": Array [
                "--pd=http://basic-pd.db.svc:2379",
                "--addr=0.0.0.0:20160",
                "--advertise-addr=$(POD_NAME).basic-tikv-peer.db.svc:20160",
                "--status-addr=0.0.0.0:20180",
                "--advertise-status-addr=$(POD_NAME).basic-tikv-peer.db.svc:20180",
                "--data-dir=/var/lib/tikv",
                "--capacity=100GB",
                "--config=/etc/tikv/config-file",
              ],
              "command": Array [
                "/tikv-server",
              ],
              "env": Array [
                Object {
                  "name": "POD_NAME",
                  "valueFrom": Object {
                    "fieldRef": Object {
                      "fieldPath": "metadata.name",
                    },
                  },
                },
                Object {
                  "name": "NAMESPACE",
                  "valueFrom": Object {
                    "fieldRef": Object {
                      "fieldPath": "metadata.namespace",
                    },
                  },
                },
              ],
              "image": "pingcap/tikv:v8.5.4",
              "imagePullPolicy": "IfNotPresent",
              "name": "tikv",
              "ports": Array [
                Object {
                  "containerPort": 20160,
                  "name": "server",
                },
                Object {
                  "containerPort": 20180,
                  "name": "status",
                },
              ],
              "readinessProbe": Object {
                "periodSeconds": 5,
                "tcpSocket": Object {
                  "port": 20160,
                },
              },
              "resources": Object {},
              "volumeMounts": Array [
                Object {
                  "mountPath": "/etc/tikv",
                  "name": "config",
                  "readOnly": true,
                },
                Object {
                  "mountPath": "/var/lib/tikv",
                  "name": "tikv",
                },
              ],
            },
          ],
          "schedulerName": "tidb-scheduler",
          "terminationGracePeriodSeconds": 120,
          "volumes": Array [
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "config-file",
                    "path": "config-file",
                  },
                ],
                "name": "basic-tikv",
              },
              "name": "config",
            },
          ],
        },
      },
      "updateStrategy": Object {
        "rollingUpdate": Object {
          "partition": 0,
        },
        "type": "RollingUpdate",
      },
      "volumeClaimTemplates": Array [
        Object {
          "metadata": Object {
            "labels": Object {
              "app.kubernetes.io/component": "tikv",
              "app.kubernetes.io/instance": "basic",
              "app.kubernetes.io/managed-by": "tidb-steward",
              "app.kubernetes.io/name": "tidb-cluster",
              "app.kubernetes.io/part-of": "tidb",
            },
            "name": "tikv",
          },
          "spec": Object {
            "accessModes": Array [
              "ReadWriteOnce",
            ],
            "resources": Object {
              "requests": Object {
                "storage": "100Gi",
              },
            },
          },
        },
      ],
    },
  },
  Object {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tikv",
        "app.kubernetes.io/instance": "basic",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "basic-tikv",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "basic",
          "uid": "uid-basic",
        },
      ],
    },
    "spec": Object {
      "maxUnavailable": 1,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tikv",
          "app.kubernetes.io/instance": "basic",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
    },
  },
]
`
