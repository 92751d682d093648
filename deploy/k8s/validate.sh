#!/usr/bin/env bash
# Validates deploy/k8s/*.yaml against Kubernetes' own OpenAPI schemas, strictly (unknown
# fields are errors), with kubernetes-validate from PyPI (it carries the schemas: no
# cluster needed). Checked against 1.29, the first version with backoffLimitPerIndex, and
# the newest the tool knows. .ci/run runs it; there is no cluster on this machine, so the
# Job itself is not applied here (deploy/container/test-image.sh runs its image the way
# the Job does).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${QUORUM_K8S_VENV:-/var/tmp/quorum-k8s-validate}"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    echo "== installing kubernetes-validate (PyPI) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'kubernetes-validate==1.*'
fi
for version in 1.29.0 latest; do
    if [ "$version" = latest ]; then
        "$venv/bin/kubernetes-validate" --strict deploy/k8s/*.yaml
    else
        "$venv/bin/kubernetes-validate" --strict -k "$version" deploy/k8s/*.yaml
    fi
done
