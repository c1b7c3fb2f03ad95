"""The thin layers the verbs call through: AWS (boto3), Kubernetes (the official client), Pulumi (Automation API,
state, outputs), and HTTP(S). No decisions here: the verbs judge what these fetch."""
