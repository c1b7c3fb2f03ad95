"""Numbers and names that a verb uses and `--help` states, defined once so the two cannot disagree.

Imports nothing heavy: cli.py builds its help from these, and `--help` must not load boto3, kubernetes or pulumi.
"""

from datetime import timedelta

# The measuring probe (watch, up --watch, swap-node --watch).
PROBE_INTERVAL = 0.5  # seconds between requests
PROBE_TIMEOUT = 2.0  # seconds for one whole request

# Every Kubernetes API call: seconds to connect, then to wait for the answer. An API server that accepts
# connections and never answers must not hang a verb; the verbs' own waits do the retrying (visibly, within their
# deadlines), so the transport retries nothing and logs nothing.
Timeout = tuple[float, float]  # the kubernetes client's `_request_timeout`: (connect, read)
KUBE_TIMEOUT: Timeout = (5.0, 20.0)

# verify's certificate row warns with this little time left: ACM renews well before expiry, so renewal is failing.
RENEWAL_WARNING = timedelta(days=30)

# swap-node's lock (one run at a time per cluster): a coordination.k8s.io Lease.
SWAP_LOCK_NAMESPACE, SWAP_LOCK_NAME = "kube-system", "infra-swap-node"
