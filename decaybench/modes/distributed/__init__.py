"""The distributed runtime of modes ``mirrored`` and ``multiworker``: one home per name, in these modules.

* :mod:`~decaybench.modes.distributed.runners`: ``run_mirrored`` and ``run_multiworker``, the registry's targets.
* :mod:`~decaybench.modes.distributed.training`: the replicated step and its math, the strategies, the devices.
* :mod:`~decaybench.modes.distributed.local_supervisor`: ``LocalCluster``, worker processes on this machine.
* :mod:`~decaybench.modes.distributed.local_worker`: one such worker (``python -m`` it).
* :mod:`~decaybench.modes.distributed.protocol`: what the local supervisor and its workers say to each other.
* :mod:`~decaybench.modes.distributed.real_host`: this process as one host of a real cluster (``TF_CONFIG`` set).
* :mod:`~decaybench.modes.distributed.tf_config`: ``TF_CONFIG``, read and checked before TensorFlow loads.
* :mod:`~decaybench.modes.distributed.agreement`: the hosts of a real cluster agree on what they run.
* :mod:`~decaybench.modes.distributed.faults`: faults injected by tests, and faults diagnosed.
* :mod:`~decaybench.modes.distributed.recovery`: a local run restarted from its last checkpoint after a fault.
* :mod:`~decaybench.modes.distributed.shared_checkpoints`: the chief writes checkpoints, every worker reads them.
* :mod:`~decaybench.modes.distributed.timeouts`: how long a run waits for what.
"""
