"""Instructions (not seconds) of a batch of erasures, keepword against the SQL floor.

Wall-clock figures on a shared machine move by 20-40% from one minute to the next
(``bench_requests.py`` prints a Python probe to show it). To tell whether a change
made keepword cheaper, count instructions instead: valgrind's callgrind counts the
same total for the same code and data, whatever else the machine is doing. This
script builds the shop store (``shop.py``), then counts, with instrumentation on only
around them, the instructions of keepword's batch (``requests.run`` of verified
erasures) and of the hand-written floor on the same number of subjects.

    python bench/instructions.py                      # 2,000 subjects on SQLite
    python bench/instructions.py --subjects 10000
    PYTHONPATH=/other/tree/src python bench/instructions.py   # the same for another tree

Needs ``valgrind`` (and ``callgrind_control``) on the PATH; about half a minute for
2,000 subjects. Hash seeds are fixed, so two runs of one tree agree to ~0.1%.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _instrument(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                   capture_output=True, check=False)


def measured(which: str, subjects: int) -> None:
    """Inside valgrind: build the store, count one side (instrumentation around it)."""
    import bench_requests as br
    import shop
    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory(prefix="kw_instr_") as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'shop.db'}"
        engine = create_engine(url)
        store = br.Store(engine, subjects, 1)
        store.build()
        deploy = shop.write_datamap(folder / "deploy", "sqlite", br.URL_ENV)
        client = br.KeepwordClient(deploy, engine.url, f"sqlite:///{folder / 'control.db'}",
                                   folder / "home")
        try:
            for email in store.take(10):  # plans compiled, caches warm
                client.erase(email)
            store.build()
            emails = store.take(subjects)
            if which == "floor":
                _instrument(True)
                shop.floor_erase(engine, emails, br.FLOOR_CHUNK)
            else:
                ids = client.submit_erasures(emails)
                _instrument(True)
                client.run_batch(ids)
            _instrument(False)
        finally:
            client.close()
            engine.dispose()


def count(which: str, subjects: int) -> int:
    """Run ``measured`` under callgrind; the instructions it counted."""
    with tempfile.TemporaryDirectory(prefix="kw_cg_") as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                        f"--callgrind-out-file={out}", sys.executable, __file__,
                        "--inside", which, "--subjects", str(subjects)],
                       env=env, capture_output=True, check=True)
        totals = re.search(rb"^totals:\s+(\d+)", out.read_bytes(), re.MULTILINE)
        if totals is None:
            raise SystemExit("callgrind wrote no totals")
        return int(totals.group(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subjects", type=int, default=2000)
    p.add_argument("--inside", choices=["keepword", "floor"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inside:
        measured(args.inside, args.subjects)
        return 0
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        raise SystemExit("valgrind is not installed (Debian: apt install valgrind)")
    kw, floor = count("keepword", args.subjects), count("floor", args.subjects)
    print(f"batch of {args.subjects:,} erasures on SQLite, instructions (callgrind)")
    print(f"  keepword  {kw:>16,}  ({kw / args.subjects:,.0f} a subject)")
    print(f"  floor     {floor:>16,}  ({floor / args.subjects:,.0f} a subject)")
    print(f"  keepword / floor: {kw / floor:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
