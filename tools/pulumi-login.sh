#!/usr/bin/env bash
# Make sure the pulumi CLI talks to a backend before `make up`/`make preview`, and say which one.
# Local file state is the fallback only when NO backend was ever configured: a failing `pulumi whoami` against a
# configured backend (an expired Pulumi Cloud token, S3 credentials gone) must stop here. Logging in to local state
# then would show the live environment as all new, beside the real one.
set -uo pipefail
credentials="${PULUMI_HOME:-$HOME/.pulumi}/credentials.json"
if ! err=$(pulumi whoami 2>&1 >/dev/null); then
  if [ -n "${PULUMI_BACKEND_URL:-}" ] || grep -qs '"current"' "$credentials"; then
    echo "$err" >&2
    echo "pulumi whoami failed for the backend you use (${PULUMI_BACKEND_URL:-see $credentials}): log in to it" \
      "again, e.g. 'pulumi login' (Pulumi Cloud) or 'pulumi login s3://<bucket>' (with AWS credentials);" \
      "nothing was changed" >&2
    exit 1
  fi
  if [ -n "${CI:-}" ]; then  # a runner's disk goes away with it, and the stack's state with it
    echo "$err" >&2
    echo "no Pulumi backend for CI: set PULUMI_BACKEND_URL (s3://<bucket>) or PULUMI_ACCESS_TOKEN; local state on" \
      "a CI runner is thrown away with it, so nothing was changed" >&2
    exit 1
  fi
  echo "no Pulumi backend configured yet: using local state (pulumi login --local)"
  pulumi login --local || exit 1
fi
pulumi whoami -v 2>/dev/null | sed -n 's/^Backend URL: /pulumi backend: /p'
