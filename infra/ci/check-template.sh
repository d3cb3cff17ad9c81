#!/usr/bin/env bash
# Checks template.yaml the way CloudFormation will see it, offline (no AWS credentials):
#   (a) sam validate --lint: cfn-lint on the SAM template, as SAM CLI runs it;
#   (b) the SAM transform to plain CloudFormation (infra/ci/sam_transform.py, samtranslator,
#       placeholder S3 code locations, no IAM lookups), plus its checks: every parameter
#       used, secrets only through Secrets Manager, reserved concurrency, sample events;
#   (c) cfn-lint on the transformed template, which catches what (a) cannot see inside
#       SAM resources (e.g. a !Ref to an undefined resource in a function).
# Any finding (error or warning) fails the script. Tools live in a project-local venv
# ($ROOT/.local/venv-sam), installed once at the pinned versions.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV="$ROOT/.local/venv-sam"
OUT="$ROOT/.local/sam-check"
SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=ap-northeast-2

installed() {
  "$VENV/bin/python" - "$SAM_CLI_VERSION" "$CFN_LINT_VERSION" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
sys.exit(0 if (version("aws-sam-cli"), version("cfn-lint")) == tuple(sys.argv[1:3]) else 1)
PY
}
if ! installed; then
  echo "== installing aws-sam-cli $SAM_CLI_VERSION and cfn-lint $CFN_LINT_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
  installed
fi

cd "$ROOT"
mkdir -p "$OUT"

echo "== (a) sam validate --lint --region ap-northeast-2 -t template.yaml  (SAM CLI $SAM_CLI_VERSION)"
"$VENV/bin/sam" validate --lint --region ap-northeast-2 -t template.yaml

echo "== (b) SAM transform (samtranslator $("$VENV/bin/python" -c 'import samtranslator; print(samtranslator.__version__)')) -> .local/sam-check/template.cfn.json"
"$VENV/bin/python" infra/ci/sam_transform.py template.yaml "$OUT/template.cfn.json" events

# W2001 (unused parameter) is off here only: SAM inlines some parameter values during the
# transform (e.g. AllowedOrigins into the API's CORS settings); (b) checks instead that
# every parameter is referenced in template.yaml.
echo "== (c) cfn-lint $CFN_LINT_VERSION on the transformed template"
"$VENV/bin/cfn-lint" --ignore-checks W2001 -- "$OUT/template.cfn.json"
echo "   no findings"

echo "OK: template.yaml passes sam validate --lint, the SAM transform and its checks, and cfn-lint after the transform"
