#!/bin/sh
# tools/lint-yaml.sh: every YAML file in the repository must parse and pass
# yamllint (.yamllint), and every Kubernetes manifest in docker/k8s/ must
# have the fields the API server requires of it (apiVersion, kind,
# metadata.name) and Deployments a selector that matches their pods.
# yamllint comes from Debian through tools/install-deps.sh. Exit 0 when clean.
set -eu
cd "$(dirname "$0")/.."
command -v yamllint >/dev/null 2>&1 || tools/install-deps.sh
command -v yamllint >/dev/null 2>&1 || { echo "lint-yaml: yamllint missing" >&2; exit 1; }
files=$(git ls-files -co --exclude-standard '*.yaml' '*.yml' .yamllint)
# shellcheck disable=SC2086
yamllint -c .yamllint $files
# yamllint depends on python3-yaml, so Debian's python has the yaml module.
/usr/bin/python3 - docker/k8s/*.yaml <<'PY'
import sys, yaml
bad = 0
for path in sys.argv[1:]:
    for i, doc in enumerate(yaml.safe_load_all(open(path))):
        where = f"{path} document {i + 1}"
        if doc is None:
            continue
        for key in ("apiVersion", "kind"):
            if not isinstance(doc.get(key), str):
                print(f"{where}: no {key}"); bad += 1
        if doc.get("kind") == "Kustomization":
            continue
        if not (doc.get("metadata") or {}).get("name"):
            print(f"{where}: no metadata.name"); bad += 1
        if doc.get("kind") in ("Deployment", "StatefulSet"):
            sel = doc["spec"]["selector"]["matchLabels"]
            labels = doc["spec"]["template"]["metadata"]["labels"]
            if any(labels.get(k) != v for k, v in sel.items()):
                print(f"{where}: selector {sel} does not match pod labels {labels}"); bad += 1
            for c in doc["spec"]["template"]["spec"]["containers"]:
                ports = {p.get("name") for p in c.get("ports", [])}
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                    if isinstance(port, str) and port not in ports:
                        print(f"{where}: {probe} port {port} is not a named port"); bad += 1
sys.exit(1 if bad else 0)
PY
echo "lint-yaml: $(echo "$files" | wc -w) files clean"
