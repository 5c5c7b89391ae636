"""One graph workload, run in a fresh process, for trace_opt or for Microsoft Trace (opto).

The same code drives both libraries through a three-function adapter, so the two sides
of graph_overhead.py measure identical shapes. Prints one JSON line.

    python _graph_workload.py LIB WORKLOAD N     LIB: trace_opt | opto; WORKLOAD: chain | fanout | build

chain   p = trainable parameter; x = p; N times x = x + 1; backward on x
fanout  y_i = p + i for i < N; out = combine(*ys) (one op with N parents); backward on out
build   the chain without backward (used up to 10^6)
Memory is the growth of peak RSS over the run (same method for both libraries, no tracemalloc
slowdown); both run with Python's garbage collector on, as users do.
"""
import json
import resource
import sys
import time


def _adapter(lib):
    if lib == "trace_opt":
        import trace_opt as to

        @to.bundle()
        def combine(*args):
            """Sum the inputs."""
            return sum(args)

        return (lambda: to.Parameter(0)), combine, (lambda out: out.backward("feedback"))
    if lib == "opto":
        from opto.trace import bundle, node

        @bundle()
        def combine(*args):
            """Sum the inputs."""
            return sum(args)

        return (lambda: node(0, trainable=True)), combine, (lambda out: out.backward("feedback"))
    raise SystemExit(f"unknown library {lib!r}")


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(lib, workload, n):
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    make_param, combine, backward = _adapter(lib)
    base = _peak_rss_mb()
    start = time.perf_counter()
    p = make_param()
    if workload == "fanout":
        out = combine(*[p + i for i in range(n)])
    else:
        out = p
        for _ in range(n):
            out = out + 1
    built = time.perf_counter()
    if workload != "build":
        backward(out)
    done = time.perf_counter()
    print(json.dumps({"lib": lib, "workload": workload, "n": n, "build_s": built - start,
                      "backward_s": None if workload == "build" else done - built,
                      "peak_mb": _peak_rss_mb() - base}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
