"""netlab: serve one small model over REST and gRPC, call it resiliently, and measure it.

Provided (do not edit): ``model``, ``protos``, ``serve``.
Yours to complete: ``rest_service`` (task 1), ``grpc_service`` (task 2), ``client`` (task 3),
``balancer`` (task 4) and ``bench`` (task 5). Look for ``TODO(student)``.
"""
