"""`up`: `pulumi up` with the policy pack through the Automation API; with --watch, the probe polls the stack's url
throughout and the summary names the resource being updated when each failure happened.

progress.py follows the engine's events (which resources are being changed now), confirmed.py holds what the
operator confirmed (the preview's steps, the program's hashes) and compares a second preview with it, command.py is
the verb: confirmation, that check, the probe around the update, the error budget. clients/stack.py runs pulumi
preview and up, as it runs every Pulumi operation.
"""
