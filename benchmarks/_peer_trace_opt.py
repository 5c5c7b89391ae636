"""Peer baseline: time Microsoft Trace (PyPI ``trace-opt`` 0.1.3.8, import ``opto``).

Why this exists: trace_opt's graph benchmarks are compared against the real
Microsoft Trace on the same workload shapes. Run it with a separate venv that
has trace-opt installed (it is NOT a dependency of this project), e.g.

    /tmp/peer-venv/bin/python benchmarks/_peer_trace_opt.py chain 1000

Workloads (N = number of traced ops, not counting the combine op in fanout):
  chain   p = node(0, trainable=True); x = p; N times: x = x + 1;
          then x.backward("feedback")   (default GraphPropagator).
          Each `x + 1` wraps the constant via node(1) (a registered Node) and
          calls the bundled operators.add -> one MessageNode with 2 parents.
  fanout  y_i = p + i for i in range(N); out = combine(*ys), where combine is a
          single @bundle() op taking *args, so `out` has N MessageNode parents
          (bundle unpacks varargs into inputs args_0..args_{N-1});
          then out.backward("feedback").
  build   like chain, but no backward.

Prints one JSON line: workload, n, build_s, backward_s (null for build),
peak_mb (tracemalloc peak over build+backward), build_s_no_tracemalloc and
backward_s_no_tracemalloc (a second run, after GRAPH.clear() + gc.collect(),
with tracemalloc off), ok. Errors (e.g. RecursionError) give ok=false.

Gotcha: opto keeps a global registry (opto.trace.GRAPH) that holds every node
ever created (even under stop_tracing()), so it is cleared between runs.
"""
import gc
import json
import sys
import time
import tracemalloc

from opto.trace import GRAPH, bundle, node

# Backward is an iterative heap walk and build is a loop, so Trace itself does
# not recurse per node; raise the limit anyway so that any hidden recursion in
# deep chains (e.g. teardown) shows up as a measured failure, not a crash.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 1_000_000))


@bundle()
def combine(*args):
    """Combine all inputs into one output (sum)."""
    return sum(args)


def build_chain(n):
    p = node(0, trainable=True)
    x = p
    for _ in range(n):
        x = x + 1
    return x


def build_fanout(n):
    p = node(0, trainable=True)
    ys = [p + i for i in range(n)]
    return combine(*ys)


BUILDERS = {"chain": build_chain, "fanout": build_fanout, "build": build_chain}


def run_once(workload, n):
    """Build (and maybe backward) once; return (build_s, backward_s)."""
    t0 = time.perf_counter()
    out = BUILDERS[workload](n)
    build_s = time.perf_counter() - t0
    backward_s = None
    if workload != "build":
        t0 = time.perf_counter()
        out.backward("feedback")
        backward_s = time.perf_counter() - t0
    return build_s, backward_s


def reset():
    GRAPH.clear()
    gc.collect()


def main():
    workload, n = sys.argv[1], int(sys.argv[2])
    if workload not in BUILDERS:
        sys.exit(f"unknown workload {workload!r}; choose from {sorted(BUILDERS)}")
    res = {"workload": workload, "n": n}
    try:
        reset()
        tracemalloc.start()
        build_s, backward_s = run_once(workload, n)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        reset()
        build2, backward2 = run_once(workload, n)
        reset()
        res.update(
            build_s=build_s,
            backward_s=backward_s,
            peak_mb=peak / 2**20,
            build_s_no_tracemalloc=build2,
            backward_s_no_tracemalloc=backward2,
            ok=True,
        )
    except RecursionError as e:
        res.update(ok=False, error=f"RecursionError: {e}")
    except Exception as e:  # report, don't crash, so the harness gets JSON
        res.update(ok=False, error=f"{type(e).__name__}: {e}")
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
