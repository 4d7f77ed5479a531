/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/cluster-resource/pingcap.test.ts > TAP > PingCAP-shaped clusters: basic, advanced and local-disk accepted; TLS and heterogeneous refused with the reason > advanced.yaml pd 1`] = `
Array [
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "advanced",
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
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-pd-peer",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
    },
  },
  Object {
    "apiVersion": "v1",
    "data": Object {
      "config-file": String(
        [log]
        level = "info"
        [replication]
        location-labels = ["zone", "host"]
        max-replicas = 3
        
      ),
      "initial-cluster": "advanced-pd-0=http://advanced-pd-0.advanced-pd-peer.db.svc:2380,advanced-pd-1=http://advanced-pd-1.advanced-pd-peer.db.svc:2380,advanced-pd-2=http://advanced-pd-2.advanced-pd-peer.db.svc:2380",
      "mode": "initial",
      "start-script": String(
        #!/bin/sh
        # Written by tidb-steward: starts one PD member of db/advanced.
        set -eu
        ARGS="--name=\${POD_NAME} --data-dir=/var/lib/pd --config=/etc/pd/config-file
          --client-urls=http://0.0.0.0:2379 --advertise-client-urls=http://\${POD_NAME}.advanced-pd-peer.db.svc:2379
          --peer-urls=http://0.0.0.0:2380 --advertise-peer-urls=http://\${POD_NAME}.advanced-pd-peer.db.svc:2380"
        if [ -d /var/lib/pd/member/wal ]; then
          : # restart: the membership is in the data dir
        elif [ "$(cat /etc/pd-bootstrap/mode)" = "initial" ] && echo ",$(cat /etc/pd-bootstrap/initial-cluster)" | grep -q ",\${POD_NAME}="; then
          ARGS="$ARGS --initial-cluster=$(cat /etc/pd-bootstrap/initial-cluster)"
        else
          ARGS="$ARGS --join=http://advanced-pd.db.svc:2379"
        fi
        exec /pd-server $ARGS
        
      ),
    },
    "kind": "ConfigMap",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "persistentVolumeClaimRetentionPolicy": Object {
        "whenDeleted": "Retain",
        "whenScaled": "Delete",
      },
      "podManagementPolicy": "Parallel",
      "replicas": 3,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "pd",
          "app.kubernetes.io/instance": "advanced",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
      "serviceName": "advanced-pd-peer",
      "template": Object {
        "metadata": Object {
          "annotations": Object {
            "team": "storage",
            "tidb-steward.dev/config-hash": "21fe94e5c7e28dc2",
          },
          "labels": Object {
            "app.kubernetes.io/component": "pd",
            "app.kubernetes.io/instance": "advanced",
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
                Object {
                  "name": "TZ",
                  "value": "Asia/Shanghai",
                },
              ],
              "image": "example.internal/pingcap/pd:v8.5.5",
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
                "periodSeconds": 10,
                "tcpSocket": Object {
                  "port": 2379,
                },
              },
              "resources": Object {
                "limits": Object {
                  "cpu": "2",
                  "memory": "4Gi",
                },
                "requests": Object {
                  "cpu": "1",
                  "memory": "2Gi",
                },
              },
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
                Object {
                  "mountPath": "/var/log/pd",
                  "name": "pd-log",
                },
              ],
            },
            Object {
              "command": Array [
                "sleep",
                "infinity",
              ],
              "image": "busybox:1.36",
              "name": "debug",
            },
          ],
          "nodeSelector": Object {
            "dedicated": "tidb",
          },
          "schedulerName": "tidb-scheduler",
          "securityContext": Object {
            "sysctls": Array [
              Object {
                "name": "net.core.somaxconn",
                "value": "32768",
              },
            ],
          },
          "terminationGracePeriodSeconds": 30,
          "tolerations": Array [
            Object {
              "effect": "NoSchedule",
              "key": "dedicated",
              "operator": "Equal",
              "value": "tidb",
            },
          ],
          "topologySpreadConstraints": Array [
            Object {
              "labelSelector": Object {
                "matchLabels": Object {
                  "app.kubernetes.io/component": "pd",
                  "app.kubernetes.io/instance": "advanced",
                  "app.kubernetes.io/managed-by": "tidb-steward",
                  "app.kubernetes.io/name": "tidb-cluster",
                },
              },
              "maxSkew": 1,
              "topologyKey": "topology.kubernetes.io/zone",
              "whenUnsatisfiable": "DoNotSchedule",
            },
          ],
          "volumes": Array [
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "config-file",
                    "path": "config-file",
                  },
                ],
                "name": "advanced-pd",
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
                "name": "advanced-pd",
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
                "name": "advanced-pd",
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
              "app.kubernetes.io/instance": "advanced",
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
                "storage": "20Gi",
              },
            },
            "storageClassName": "fast",
          },
        },
        Object {
          "metadata": Object {
            "labels": Object {
              "app.kubernetes.io/component": "pd",
              "app.kubernetes.io/instance": "advanced",
              "app.kubernetes.io/managed-by": "tidb-steward",
              "app.kubernetes.io/name": "tidb-cluster",
              "app.kubernetes.io/part-of": "tidb",
            },
            "name": "pd-log",
          },
          "spec": Object {
            "accessModes": Array [
              "ReadWriteOnce",
            ],
            "resources": Object {
              "requests": Object {
                "storage": "5Gi",
              },
            },
            "storageClassName": "fast",
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
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "maxUnavailable": 1,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "pd",
          "app.kubernetes.io/instance": "advanced",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
    },
  },
]
`

exports[`test/cluster-resource/pingcap.test.ts > TAP > PingCAP-shaped clusters: basic, advanced and local-disk accepted; TLS and heterogeneous refused with the reason > advanced.yaml tidb 1`] = `
Array [
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "annotations": Object {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
      },
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "externalTrafficPolicy": "Local",
      "ports": Array [
        Object {
          "name": "mysql-client",
          "port": 4000,
          "protocol": "TCP",
          "targetPort": 4000,
        },
      ],
      "selector": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
      "type": "LoadBalancer",
    },
  },
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-tidb-peer",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
    },
  },
  Object {
    "apiVersion": "v1",
    "data": Object {
      "config-file": String(
        [performance]
        tcp-keep-alive = true
        
        [log]
        slow-threshold = 300
        
      ),
    },
    "kind": "ConfigMap",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "podManagementPolicy": "Parallel",
      "replicas": 2,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tidb",
          "app.kubernetes.io/instance": "advanced",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
      "serviceName": "advanced-tidb-peer",
      "template": Object {
        "metadata": Object {
          "annotations": Object {
            "team": "storage",
            "tidb-steward.dev/config-hash": "95985ab3a980cc20",
            "tidb.pingcap.com/sysbench": "true",
          },
          "labels": Object {
            "app.kubernetes.io/component": "tidb",
            "app.kubernetes.io/instance": "advanced",
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
                "--path=advanced-pd.db.svc:2379",
                "--advertise-address=$(POD_NAME).advanced-tidb-peer.db.svc",
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
                Object {
                  "name": "TZ",
                  "value": "Asia/Shanghai",
                },
              ],
              "image": "example.internal/pingcap/tidb:v8.5.4",
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
              "resources": Object {
                "limits": Object {
                  "cpu": "100m",
                  "memory": "50Mi",
                },
              },
              "volumeMounts": Array [
                Object {
                  "mountPath": "/var/log/tidb",
                  "name": "slowlog",
                },
              ],
            },
          ],
          "nodeSelector": Object {
            "dedicated": "tidb",
          },
          "terminationGracePeriodSeconds": 30,
          "tolerations": Array [
            Object {
              "effect": "NoSchedule",
              "key": "dedicated",
              "operator": "Equal",
              "value": "tidb",
            },
          ],
          "topologySpreadConstraints": Array [
            Object {
              "labelSelector": Object {
                "matchLabels": Object {
                  "app.kubernetes.io/component": "tidb",
                  "app.kubernetes.io/instance": "advanced",
                  "app.kubernetes.io/managed-by": "tidb-steward",
                  "app.kubernetes.io/name": "tidb-cluster",
                },
              },
              "maxSkew": 1,
              "topologyKey": "topology.kubernetes.io/zone",
              "whenUnsatisfiable": "DoNotSchedule",
            },
          ],
          "volumes": Array [
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "config-file",
                    "path": "config-file",
                  },
                ],
                "name": "advanced-tidb",
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
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "maxUnavailable": 1,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tidb",
          "app.kubernetes.io/instance": "advanced",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
    },
  },
]
`

exports[`test/cluster-resource/pingcap.test.ts > TAP > PingCAP-shaped clusters: basic, advanced and local-disk accepted; TLS and heterogeneous refused with the reason > advanced.yaml tikv 1`] = `
Array [
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tikv",
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-tikv-peer",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
    },
  },
  Object {
    "apiVersion": "v1",
    "data": Object {
      "config-file": String(
        [raftstore]
        apply-pool-size = 2
        
        [server]
        grpc-concurrency = 4
        
      ),
    },
    "kind": "ConfigMap",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tikv",
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-tikv",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-tikv",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "persistentVolumeClaimRetentionPolicy": Object {
        "whenDeleted": "Retain",
        "whenScaled": "Delete",
      },
      "podManagementPolicy": "Parallel",
      "replicas": 3,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tikv",
          "app.kubernetes.io/instance": "advanced",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
      "serviceName": "advanced-tikv-peer",
      "template": Object {
        "metadata": Object {
          "annotations": Object {
            "team": "storage",
            "tidb-steward.dev/config-hash": "95985ab3a980cc20",
          },
          "labels": Object {
            "app.kubernetes.io/component": "tikv",
            "app.kubernetes.io/instance": "advanced",
            "app.kubernetes.io/managed-by": "tidb-steward",
            "app.kubernetes.io/name": "tidb-cluster",
            "app.kubernetes.io/part-of": "tidb",
            "tier": "storage",
          },
        },
        "spec": Object {
          "containers": Array [
            Object {
              "args": Array [
                "--pd=http://advanced-pd.db.svc:2379",
                "--addr=0.0.0.0:20160",
                "--advertise-addr=$(POD_NAME).advanced-tikv-peer.db.svc:20160",
                "--status-addr=0.0.0.0:20180",
                "--advertise-status-addr=$(POD_NAME).advanced-tikv-peer.db.svc:20180",
                "--data-dir=/var/lib/tikv",
                "--capacity=200GB",
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
                Object {
                  "name": "TZ",
                  "value": "Asia/Shanghai",
                },
                Object {
                  "name": "MALLOC_CONF",
                  "value": "prof:true",
                },
              ],
              "image": "example.internal/pingcap/tikv:v8.5.4",
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
                Object {
                  "mountPath": "/scratch",
                  "name": "scratch",
                },
              ],
            },
          ],
          "nodeSelector": Object {
            "dedicated": "tidb",
          },
          "schedulerName": "tidb-scheduler",
          "terminationGracePeriodSeconds": 120,
          "tolerations": Array [
            Object {
              "effect": "NoSchedule",
              "key": "dedicated",
              "operator": "Equal",
              "value": "tidb",
            },
          ],
          "topologySpreadConstraints": Array [
            Object {
              "labelSelector": Object {
                "matchLabels": Object {
                  "app.kubernetes.io/component": "tikv",
                  "app.kubernetes.io/instance": "advanced",
                  "app.kubernetes.io/managed-by": "tidb-steward",
                  "app.kubernetes.io/name": "tidb-cluster",
                },
              },
              "maxSkew": 1,
              "topologyKey": "topology.kubernetes.io/zone",
              "whenUnsatisfiable": "DoNotSchedule",
            },
          ],
          "volumes": Array [
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "config-file",
                    "path": "config-file",
                  },
                ],
                "name": "advanced-tikv",
              },
              "name": "config",
            },
            Object {
              "emptyDir": Object {},
              "name": "scratch",
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
              "app.kubernetes.io/instance": "advanced",
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
                "storage": "200Gi",
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
        "app.kubernetes.io/instance": "advanced",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "advanced-tikv",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "advanced",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "maxUnavailable": 1,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tikv",
          "app.kubernetes.io/instance": "advanced",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
    },
  },
]
`

exports[`test/cluster-resource/pingcap.test.ts > TAP > PingCAP-shaped clusters: basic, advanced and local-disk accepted; TLS and heterogeneous refused with the reason > basic.yaml pd 1`] = `
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
          "uid": "u1",
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
          "uid": "u1",
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
      "initial-cluster": "basic-pd-0=http://basic-pd-0.basic-pd-peer.db.svc:2380",
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
          "uid": "u1",
        },
      ],
    },
  },
  Object {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": Object {
      "annotations": Object {
        "tidb-steward.dev/pd-target-replicas": "1",
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
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "persistentVolumeClaimRetentionPolicy": Object {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
      },
      "podManagementPolicy": "Parallel",
      "replicas": 1,
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
            "tidb-steward.dev/config-hash": "98b14643bc9f6b45",
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
                Object {
                  "name": "TZ",
                  "value": "UTC",
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
                "storage": "1Gi",
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
          "uid": "u1",
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

exports[`test/cluster-resource/pingcap.test.ts > TAP > PingCAP-shaped clusters: basic, advanced and local-disk accepted; TLS and heterogeneous refused with the reason > basic.yaml tidb 1`] = `
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
          "uid": "u1",
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
          "uid": "u1",
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
      "config-file": String(
        [log]
        level = "info"
        
      ),
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
          "uid": "u1",
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
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "podManagementPolicy": "Parallel",
      "replicas": 1,
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
            "tidb-steward.dev/config-hash": "c1f0b26ce91c3c13",
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
                Object {
                  "name": "TZ",
                  "value": "UTC",
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
          "uid": "u1",
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

exports[`test/cluster-resource/pingcap.test.ts > TAP > PingCAP-shaped clusters: basic, advanced and local-disk accepted; TLS and heterogeneous refused with the reason > basic.yaml tikv 1`] = `
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
          "uid": "u1",
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
      "config-file": String(
        [storage]
        reserve-space = "0MB"
        
        [rocksdb]
        max-open-files = 256
        
        [raftdb]
        max-open-files = 256
        
      ),
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
          "uid": "u1",
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
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "persistentVolumeClaimRetentionPolicy": Object {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
      },
      "podManagementPolicy": "Parallel",
      "replicas": 1,
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
            "tidb-steward.dev/config-hash": "c26d3cdc1417bd05",
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
                "--capacity=1GB",
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
                Object {
                  "name": "TZ",
                  "value": "UTC",
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
                "storage": "1Gi",
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
          "uid": "u1",
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

exports[`test/cluster-resource/pingcap.test.ts > TAP > PingCAP-shaped clusters: basic, advanced and local-disk accepted; TLS and heterogeneous refused with the reason > local-disk.yaml pd 1`] = `
Array [
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "localdisk",
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
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-pd-peer",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "localdisk",
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
      "initial-cluster": "localdisk-pd-0=http://localdisk-pd-0.localdisk-pd-peer.db.svc:2380,localdisk-pd-1=http://localdisk-pd-1.localdisk-pd-peer.db.svc:2380,localdisk-pd-2=http://localdisk-pd-2.localdisk-pd-peer.db.svc:2380",
      "mode": "initial",
      "start-script": String(
        #!/bin/sh
        # Written by tidb-steward: starts one PD member of db/localdisk.
        set -eu
        ARGS="--name=\${POD_NAME} --data-dir=/var/lib/pd --config=/etc/pd/config-file
          --client-urls=http://0.0.0.0:2379 --advertise-client-urls=http://\${POD_NAME}.localdisk-pd-peer.db.svc:2379
          --peer-urls=http://0.0.0.0:2380 --advertise-peer-urls=http://\${POD_NAME}.localdisk-pd-peer.db.svc:2380"
        if [ -d /var/lib/pd/member/wal ]; then
          : # restart: the membership is in the data dir
        elif [ "$(cat /etc/pd-bootstrap/mode)" = "initial" ] && echo ",$(cat /etc/pd-bootstrap/initial-cluster)" | grep -q ",\${POD_NAME}="; then
          ARGS="$ARGS --initial-cluster=$(cat /etc/pd-bootstrap/initial-cluster)"
        else
          ARGS="$ARGS --join=http://localdisk-pd.db.svc:2379"
        fi
        exec /pd-server $ARGS
        
      ),
    },
    "kind": "ConfigMap",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "pd",
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
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
          "app.kubernetes.io/instance": "localdisk",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
      "serviceName": "localdisk-pd-peer",
      "template": Object {
        "metadata": Object {
          "annotations": Object {
            "tidb-steward.dev/config-hash": "8f38d93f940f50cd",
          },
          "labels": Object {
            "app.kubernetes.io/component": "pd",
            "app.kubernetes.io/instance": "localdisk",
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
                Object {
                  "name": "TZ",
                  "value": "UTC",
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
          "nodeSelector": Object {
            "dedicated": "pd",
          },
          "schedulerName": "tidb-scheduler",
          "terminationGracePeriodSeconds": 30,
          "tolerations": Array [
            Object {
              "effect": "NoSchedule",
              "key": "dedicated",
              "operator": "Equal",
              "value": "pd",
            },
          ],
          "volumes": Array [
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "config-file",
                    "path": "config-file",
                  },
                ],
                "name": "localdisk-pd",
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
                "name": "localdisk-pd",
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
                "name": "localdisk-pd",
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
              "app.kubernetes.io/instance": "localdisk",
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
            "storageClassName": "local-storage",
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
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-pd",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "maxUnavailable": 1,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "pd",
          "app.kubernetes.io/instance": "localdisk",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
    },
  },
]
`

exports[`test/cluster-resource/pingcap.test.ts > TAP > PingCAP-shaped clusters: basic, advanced and local-disk accepted; TLS and heterogeneous refused with the reason > local-disk.yaml tidb 1`] = `
Array [
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "externalTrafficPolicy": "Local",
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
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
      "type": "NodePort",
    },
  },
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-tidb-peer",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
    },
  },
  Object {
    "apiVersion": "v1",
    "data": Object {
      "config-file": "\\n",
    },
    "kind": "ConfigMap",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tidb",
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "podManagementPolicy": "Parallel",
      "replicas": 2,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tidb",
          "app.kubernetes.io/instance": "localdisk",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
      "serviceName": "localdisk-tidb-peer",
      "template": Object {
        "metadata": Object {
          "annotations": Object {
            "tidb-steward.dev/config-hash": "e8363115d92077ad",
          },
          "labels": Object {
            "app.kubernetes.io/component": "tidb",
            "app.kubernetes.io/instance": "localdisk",
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
                "--path=localdisk-pd.db.svc:2379",
                "--advertise-address=$(POD_NAME).localdisk-tidb-peer.db.svc",
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
                Object {
                  "name": "TZ",
                  "value": "UTC",
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
          "nodeSelector": Object {
            "dedicated": "tidb",
          },
          "terminationGracePeriodSeconds": 30,
          "tolerations": Array [
            Object {
              "effect": "NoSchedule",
              "key": "dedicated",
              "operator": "Equal",
              "value": "tidb",
            },
          ],
          "volumes": Array [
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "config-file",
                    "path": "config-file",
                  },
                ],
                "name": "localdisk-tidb",
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
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-tidb",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "maxUnavailable": 1,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tidb",
          "app.kubernetes.io/instance": "localdisk",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
    },
  },
]
`

exports[`test/cluster-resource/pingcap.test.ts > TAP > PingCAP-shaped clusters: basic, advanced and local-disk accepted; TLS and heterogeneous refused with the reason > local-disk.yaml tikv 1`] = `
Array [
  Object {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tikv",
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-tikv-peer",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
      },
    },
  },
  Object {
    "apiVersion": "v1",
    "data": Object {
      "config-file": "\\n",
    },
    "kind": "ConfigMap",
    "metadata": Object {
      "labels": Object {
        "app.kubernetes.io/component": "tikv",
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-tikv",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
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
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-tikv",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
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
          "app.kubernetes.io/instance": "localdisk",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
      "serviceName": "localdisk-tikv-peer",
      "template": Object {
        "metadata": Object {
          "annotations": Object {
            "tidb-steward.dev/config-hash": "e8363115d92077ad",
          },
          "labels": Object {
            "app.kubernetes.io/component": "tikv",
            "app.kubernetes.io/instance": "localdisk",
            "app.kubernetes.io/managed-by": "tidb-steward",
            "app.kubernetes.io/name": "tidb-cluster",
            "app.kubernetes.io/part-of": "tidb",
          },
        },
        "spec": Object {
          "containers": Array [
            Object {
              "args": Array [
                "--pd=http://localdisk-pd.db.svc:2379",
                "--addr=0.0.0.0:20160",
                "--advertise-addr=$(POD_NAME).localdisk-tikv-peer.db.svc:20160",
                "--status-addr=0.0.0.0:20180",
                "--advertise-status-addr=$(POD_NAME).localdisk-tikv-peer.db.svc:20180",
                "--data-dir=/var/lib/tikv",
                "--capacity=1800GB",
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
                Object {
                  "name": "TZ",
                  "value": "UTC",
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
          "nodeSelector": Object {
            "dedicated": "tikv",
          },
          "schedulerName": "tidb-scheduler",
          "terminationGracePeriodSeconds": 120,
          "tolerations": Array [
            Object {
              "effect": "NoSchedule",
              "key": "dedicated",
              "operator": "Equal",
              "value": "tikv",
            },
          ],
          "volumes": Array [
            Object {
              "configMap": Object {
                "items": Array [
                  Object {
                    "key": "config-file",
                    "path": "config-file",
                  },
                ],
                "name": "localdisk-tikv",
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
              "app.kubernetes.io/instance": "localdisk",
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
                "storage": "1800Gi",
              },
            },
            "storageClassName": "local-storage",
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
        "app.kubernetes.io/instance": "localdisk",
        "app.kubernetes.io/managed-by": "tidb-steward",
        "app.kubernetes.io/name": "tidb-cluster",
        "app.kubernetes.io/part-of": "tidb",
      },
      "name": "localdisk-tikv",
      "namespace": "db",
      "ownerReferences": Array [
        Object {
          "apiVersion": "tidb-steward.dev/v1alpha1",
          "controller": true,
          "kind": "TidbCluster",
          "name": "localdisk",
          "uid": "u1",
        },
      ],
    },
    "spec": Object {
      "maxUnavailable": 1,
      "selector": Object {
        "matchLabels": Object {
          "app.kubernetes.io/component": "tikv",
          "app.kubernetes.io/instance": "localdisk",
          "app.kubernetes.io/managed-by": "tidb-steward",
          "app.kubernetes.io/name": "tidb-cluster",
        },
      },
    },
  },
]
`
