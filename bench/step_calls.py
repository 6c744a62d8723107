"""The cost of a step: a page of 50 independent counters run for 5,000 steps, against one hand-written callable.

The page: 50 float32 ``Variable`` blocks (initial value 0), each with its own ``AssignAdd`` of a Const 1.0, and a
``ClientSession`` fetching the 50 AssignAdd results; nothing connects one counter to another, so the page has
50 separate parts. It runs the way ``enuflow run PAGE --steps 5000`` runs it: through the command's worker
process (``HeadlessRun``: the child's runner with the ``on_step`` the worker passes), kept warm between runs as
the editor keeps its worker; a run re-initialises the Variables and then steps. Each run's counters must end at
5,000.

The baseline is the fastest fair hand-written TensorFlow for the same work: the same 50 reference Variables
and AssignAdds in one ``tf.Graph``, a ``tf.compat.v1.Session`` with default options (the graph optimizer on,
as enuflow's is for a graph this small), and one compiled session callable over the 50 AssignAdd outputs
(``Session._make_callable_from_options``, the ``TF_SessionRunCallable`` that enuflow's runner itself calls);
a run is the initialiser and 5,000 calls. Nothing can be folded into a constant: every step changes the
counters. The baseline fetches the 50 values the ClientSession asks for; enuflow also fetches each Variable's
value every step (it records every block's one-number result, the history the editor shows), 100 values.

Until now the baseline was the public ``Session.make_callable(adds)``: in TensorFlow 2.x that callable,
without a ``feed_list``, goes through ``Session.run``'s machinery (``TF_SessionRun_wrapper`` and the fetch
handler's ``build_results``) at every call. On a quiet machine it is as fast as the compiled callable; on this
busy one it measured 1.9 to 3.1 times the compiled callable's time in some runs, so the ratio against it could
flatter enuflow; the compiled callable is never the slower. It is still timed (after the pairs, for information
only), so that the two figures can be compared with earlier runs.

The sides alternate in pairs after a warm-up pair (``bench/common.py``); the last line is
``ratio <enuflow / hand-written>`` (target <= 1.2).

    .venv/bin/python bench/step_calls.py [--steps 5000] [--counters 50] [--pairs 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np

from common import CliWorker, finish, paired, show, timed


def page_doc(counters: int, steps: int) -> dict:
    """``counters`` independent Variable + AssignAdd(1.0) pairs, all fetched by one ClientSession."""
    blocks = [{"id": "session", "type": "ClientSession", "pos": [900, 0], "pins": {"steps": steps}}]
    links = []
    for i in range(counters):
        y = i * 120
        blocks += [{"id": f"v{i}", "type": "Variable", "pos": [0, y],
                    "pins": {"initvalues": 0.0, "dtype": "float32", "shape": []}},
                   {"id": f"one{i}", "type": "Const", "pos": [0, y + 60], "pins": {"val": 1.0, "dtype": "float32"}},
                   {"id": f"add{i}", "type": "AssignAdd", "pos": [300, y], "pins": {}}]
        links += [{"from": [f"v{i}", "ref"], "to": [f"add{i}", "ref"]},
                  {"from": [f"one{i}", "output"], "to": [f"add{i}", "value"]},
                  {"from": [f"add{i}", "output_ref"], "to": ["session", "fetch_outputs"]}]
    return {"format": "enuflow.page", "version": 1, "name": f"{counters} counters", "blocks": blocks,
            "links": links}


def hand_written(counters: int, public: bool = False):
    """(session, initialiser, step callable) of the same counters written by hand: the compiled callable
    (``public``: the public ``Session.make_callable``, which runs through ``Session.run``'s machinery)."""
    from tensorflow.core.protobuf import config_pb2

    from enuflow.blocks.tf import load

    tf = load()
    g = tf.Graph()
    with g.as_default():
        adds = []
        for i in range(counters):
            v = tf.compat.v1.Variable(np.float32(0.0), use_resource=False, name=f"v{i}")
            adds.append(tf.compat.v1.assign_add(v, tf.constant(1.0, tf.float32), name=f"add{i}"))
        init = tf.compat.v1.global_variables_initializer()
    sess = tf.compat.v1.Session(graph=g)
    if public:
        return sess, init, sess.make_callable(adds)
    opts = config_pb2.CallableOptions()
    opts.fetch.extend(t.name for t in adds)
    return sess, init, sess._make_callable_from_options(opts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--counters", type=int, default=50)
    ap.add_argument("--pairs", type=int, default=5)
    ns = ap.parse_args()
    doc = page_doc(ns.counters, ns.steps)
    worker = CliWorker("step_calls")
    sess, init, step = hand_written(ns.counters)
    expected = np.full(ns.counters, float(ns.steps), np.float32)

    def ours() -> None:
        rep = worker.run(doc, steps=ns.steps)
        got = np.array([float(rep.results[(f"add{i}", "output_ref")]) for i in range(ns.counters)], np.float32)
        if rep.steps_done != ns.steps or not np.array_equal(got, expected):
            raise SystemExit(f"step_calls: enuflow ran {rep.steps_done} steps, counters {got[:5]}...")

    def hand() -> None:
        sess.run(init)
        for _ in range(ns.steps):
            out = step()
        if not np.array_equal(np.asarray(out, np.float32), expected):
            raise SystemExit(f"step_calls: the hand-written counters ended at {out[:5]}...")

    def public_hand() -> None:
        psess.run(pinit)
        for _ in range(ns.steps):
            out = pstep()
        if not np.array_equal(np.asarray(out, np.float32), expected):
            raise SystemExit(f"step_calls: the make_callable counters ended at {out[:5]}...")

    psess, pinit, pstep = hand_written(ns.counters, public=True)
    try:
        res = paired(timed(ours), timed(hand), pairs=ns.pairs)
        public = paired(timed(ours), timed(public_hand), pairs=3)  # for information: the former baseline
    finally:
        worker.close()
        sess.close()
        psess.close()
    print(f"{ns.counters} independent counters, {ns.steps} steps a run, every counter fetched every step")
    print("for information, against the public Session.make_callable (the former baseline):")
    show(public, "enuflow run (CLI worker)", "Session.make_callable", indent="  ")
    show(res, "enuflow run (CLI worker)", "compiled callable by hand")
    per_step = [(o - b) / ns.steps * 1e6 for o, b in zip(res.ours, res.base)]
    print(f"enuflow's extra time per step: median {sorted(per_step)[len(per_step) // 2]:.1f} us")
    finish(res.ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
