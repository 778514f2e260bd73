"""The trust boundary: learner code runs in a worker process; only plain data crosses.

    judge process (tests, results plugin)          learner worker (submission code)
    fixture.py: ``learner.module("pkg.mod")``  <->  worker.py: imports and calls it
                 handles, callbacks, timeouts        replies with plain data or refs
                            \\___ protocol.py: length-prefixed JSON frames ___/

    supervisor.py (root, in the container only) starts the judge as one uid and each
    worker as another, on the judge's request, and kills them at the end.

This package imports only the standard library (and pytest, in ``fixture``), and its
modules import each other relatively: the runners copy it into the sandbox as the
top-level package ``mlskills_boundary``, where the grader itself is not installed.
"""
