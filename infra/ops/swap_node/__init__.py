"""`swap-node`: replace one EC2 instance of the node group without dropping requests.

Like kOps `delete instance`: cordon, take the node out of the Service's ELB, evict pods
(honouring PodDisruptionBudgets), terminate the instance in its ASG, then wait for the
replacement node and the workload. Every step up to the terminate is idempotent, so after a
timeout there the same command can be run again.

With no other Ready node to take the pods (a one-node group, or the others NotReady), the
node group first grows by one through EKS and the old instance is terminated with the desired
capacity decremented, so the new node is the replacement; the original sizes are restored
afterwards, also when a step fails. Before the old node leaves the ELB, another instance of
the group must be InService there (a new node is only after its health checks pass). Under the
Service's externalTrafficPolicy Local only a node holding a ready pod of the workload is; when
the old node holds all of them, one moves off it first (see SwapRun.isolate). If the swap stops
before the old instance goes, the restore removes the instance the resize launched, as the ASG's
scaling activities record it (drained like any swapped node), not whichever instance a scale-in
would pick nor one node repair launched meanwhile.

One run at a time per cluster (lock.py); the lock notes the node and the original sizes.

A failure or interrupt before the terminate (Ctrl-C, and SIGTERM or SIGHUP: see
interrupts.terminate_as_interrupt) undoes exactly what this run changed on the node, before the sizes
are restored: a cordon or label the node had before the run stays. From the moment the
terminate is sent nothing is undone on the node unless AWS says the instance is still in service.

swap.py checks and plans the run, steps.py holds its steps and their undo, resize.py grows the group and puts its
sizes back, launches.py reads which instance the resize launched, drain.py decides what to evict, lock.py is the
lock, instance.py the EC2 and ELB calls, command.py wires the real clients.
"""
