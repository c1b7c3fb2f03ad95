"""`up`: `pulumi up` with the policy pack through the Automation API; with --watch, the probe polls the stack's url
throughout and the summary names the resource being updated when each failure happened.

progress.py follows the engine's events (which resources are being changed now), update.py runs pulumi preview and
up, command.py is the verb: confirmation, the probe around the update, the error budget.
"""
