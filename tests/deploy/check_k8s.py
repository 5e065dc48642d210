"""The deployment rules every overlay of k8s/ must keep, checked on the
objects `kubectl kustomize` builds. Usage: check_k8s.py OVERLAY BUILT.yaml RULES_OUT.yml
Prints one line per check ("ok"/"FAIL") and writes the PrometheusRule's groups
to RULES_OUT.yml for promtool. Exit 1 on any failure."""
import re
import sys

import yaml

overlay, built, rules_out = sys.argv[1:4]
objects = [o for o in yaml.safe_load_all(open(built)) if o]
failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"  {'ok  ' if ok else 'FAIL'}  {overlay}: {name}{'' if ok else ': ' + str(detail)}")
    failures += 0 if ok else 1


by_kind = {}
for o in objects:
    by_kind.setdefault(o["kind"], []).append(o)

workloads = [o for o in objects if o["kind"] in ("Deployment", "DaemonSet", "StatefulSet")]
check("one workload", len(workloads) == 1, [o["kind"] for o in workloads])
w = workloads[0]
pod = w["spec"]["template"]["spec"]
pod_sc = pod.get("securityContext", {})
containers = [c for c in pod["containers"] if c["name"] == "portpath"]
check("a container named portpath", len(containers) == 1)
c = containers[0]
sc = c.get("securityContext", {})
check("runAsNonRoot", sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True)
check("runs as uid 65532 (the image's user)", sc.get("runAsUser") == 65532)
check("readOnlyRootFilesystem", sc.get("readOnlyRootFilesystem") is True)
check("allowPrivilegeEscalation false", sc.get("allowPrivilegeEscalation") is False)
caps = sc.get("capabilities", {})
check("drops ALL capabilities, adds only NET_RAW",
      caps.get("drop") == ["ALL"] and caps.get("add") == ["NET_RAW"], caps)
seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
check("seccomp RuntimeDefault", seccomp.get("type") == "RuntimeDefault", seccomp)
res = c.get("resources", {})
check("requests and limits for cpu and memory",
      all(k in res.get(part, {}) for part in ("requests", "limits") for k in ("cpu", "memory")), res)
check("liveness on /-/healthy", c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/-/healthy")
check("readiness on /-/ready", c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/-/ready")
args = c.get("args", [])
check("the image's entrypoint serves the ConfigMap's file (no command or --config override)",
      "command" not in c and not any(a.startswith("--config") or a == "serve" for a in args), args)
mounts = [m for m in c.get("volumeMounts", []) if m.get("mountPath") == "/etc/portpath"]
check("config mounted as a directory (no subPath: updates reach the pod)",
      len(mounts) == 1 and "subPath" not in mounts[0], mounts)
volumes = {v["name"]: v for v in pod.get("volumes", [])}
cm_name = volumes.get(mounts[0]["name"], {}).get("configMap", {}).get("name") if mounts else None
configmaps = {o["metadata"]["name"]: o for o in by_kind.get("ConfigMap", [])}
check("the volume's ConfigMap is in the bundle, under a fixed name (reload, not rollout)",
      cm_name == "portpath-config" and cm_name in configmaps, cm_name)
if cm_name in configmaps:
    cfg = yaml.safe_load(configmaps[cm_name]["data"]["config.yaml"])
    check("config.yaml has targets and the image's ASN data",
          bool(cfg.get("targets")) and cfg.get("asn_db") == "/usr/share/portpath/asn", cfg)
env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c.get("env", [])}

monitors = by_kind.get("ServiceMonitor", []) + by_kind.get("PodMonitor", [])
check("scraped by a ServiceMonitor or PodMonitor", len(monitors) == 1)
for m in monitors:
    eps = m["spec"].get("endpoints") or m["spec"].get("podMetricsEndpoints")
    relabel = eps[0].get("relabelings", [])
    check(f"{m['kind']} sets job=portpath (the rules' selector)",
          any(r.get("targetLabel") == "job" and r.get("replacement") == "portpath" for r in relabel))
    sel = m["spec"]["selector"]["matchLabels"]
    if m["kind"] == "PodMonitor":
        labels = w["spec"]["template"]["metadata"]["labels"]
        check("PodMonitor selects the workload's pods", all(labels.get(k) == v for k, v in sel.items()))
        check("PodMonitor's port is the container's", eps[0]["port"] in [p["name"] for p in c["ports"]])
    else:
        svcs = [s for s in by_kind.get("Service", [])
                if all(s["metadata"].get("labels", {}).get(k) == v for k, v in sel.items())]
        check("ServiceMonitor selects a Service", len(svcs) == 1)
        if svcs:
            s = svcs[0]
            labels = w["spec"]["template"]["metadata"]["labels"]
            check("the Service selects the workload's pods",
                  all(labels.get(k) == v for k, v in s["spec"]["selector"].items()))
            check("the Service's port is named as the monitor's", eps[0]["port"] in [p["name"] for p in s["spec"]["ports"]])

if w["kind"] == "DaemonSet":
    check("DaemonSet labels series with the node and pod names (downward API)",
          "--labels=node=$(NODE_NAME),pod=$(POD_NAME)" in args
          and env.get("NODE_NAME") == "spec.nodeName" and env.get("POD_NAME") == "metadata.name", (args, env))
if w["kind"] == "StatefulSet":
    shard = [a for a in args if a.startswith("--shard=")]
    m = re.fullmatch(r"--shard=\$\(SHARD_INDEX\)/(\d+)", shard[0]) if shard else None
    check("StatefulSet: --shard N equals replicas", m and int(m.group(1)) == w["spec"]["replicas"],
          (shard, w["spec"]["replicas"]))
    check("StatefulSet: the shard index is the pod's ordinal",
          env.get("SHARD_INDEX") == "metadata.labels['apps.kubernetes.io/pod-index']", env)
    check("StatefulSet's serviceName is its Service",
          w["spec"]["serviceName"] in [s["metadata"]["name"] for s in by_kind.get("Service", [])])

rules = by_kind.get("PrometheusRule", [])
check("one PrometheusRule", len(rules) == 1)
if rules:
    yaml.safe_dump({"groups": rules[0]["spec"]["groups"]}, open(rules_out, "w"))
sys.exit(1 if failures else 0)
