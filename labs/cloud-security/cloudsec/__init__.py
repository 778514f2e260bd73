"""cloudsec: least privilege on AWS, proven against moto.

One module per task, each with TODO(student) stubs:

1. ``iam_policy``   the least-privilege policy of a training job
2. ``auditor``      a policy auditor that flags over-permissive statements
3. ``bucket``       a hardened bucket: public access block, SSE-KMS, versioning, TLS only
4. ``rotation``     four-step secret rotation and a cached getter that survives it
5. ``sts_session``  short-lived, scoped-down credentials from STS

``findings`` and ``endpoint`` are given: read them, do not edit them (the grader uses the
lab's own copies).
"""
