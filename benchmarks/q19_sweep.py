"""Question 19, for instructors: train the Lunar Lander agents once per seed and tabulate.

    python -m benchmarks.q19_sweep --algo dqn --seeds 1 2 3 --jobs 2 --onednn 0

Run it from the repository's root. Each seed of --seeds trains in a fresh process (at most --jobs
at once), as `python -m solutions.q19_lunar_lander train` would with the same options, and is then
judged by --episodes evaluation episodes. The Markdown table printed (steps, wall and CPU seconds,
the final evaluation, when an in-training evaluation of 100 episodes first averaged 200) is how
the budgets, seeds and timeouts of the slow tests were chosen: the recorded tables are in
`benchmarks/q19_sweeps.json` (rows as `--json` prints them), each with its command, and
`benchmarks/test_q19_lunar_lander.py` prints them. `--threads` and `--onednn` change
TensorFlow's floating-point path (another machine's rounding), `--set name=value` any field of
the agent's Config (`--set evaluation.stop_return=230`), `--target exercises` sweeps a learner's
agents instead of the reference.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from solutions.q19_lunar_lander.__main__ import add_run_options

ROOT = Path(__file__).resolve().parents[1]


def command_line(target):
    """The agents' command-line module (`<target>.q19_lunar_lander.__main__`)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"{target}.q19_lunar_lander.__main__")


def run_seed(args, env_id):
    """Train and evaluate one seed in this process; the table's row as a dict."""
    cli = command_line(args.target)
    module = cli._module(args.algo)
    config = cli.make_config(module, env_id, args.seeds[0], args.steps, args.set)
    result = module.train(config, progress=False)
    start = time.process_time()
    returns = module.evaluate(result.policy, env_id, args.episodes, seed=config.seed)
    return {
        "seed": config.seed,
        "steps": result.steps,
        "wall": round(result.seconds, 1),
        "cpu": round(result.cpu_seconds, 1),
        "eval_wall": round(result.eval_seconds, 1),
        "eval_cpu_in_training": round(result.eval_cpu_seconds, 1),
        "mean": round(float(returns.mean()), 1),
        "std": round(float(returns.std()), 1),
        "eval_cpu": round(time.process_time() - start, 1),
        "evaluations": [[s, round(m, 1), k] for s, m, k in result.evaluations],
        "solved_at": None
        if result.solved_at is None
        else [result.solved_at[0], round(result.solved_at[1], 1)],
    }


def solved_at(row):
    """'120000, 95.3': when an in-training evaluation of 100 episodes first averaged 200."""
    if row.get("solved_at") is None:
        return "-"
    return f"{row['solved_at'][0]}, {row['solved_at'][1]:.1f}"


def sweep(args, env_id, solved):
    """Train once per seed, each in a fresh process, and print a Markdown table."""
    if len(args.seeds) == 1 and args.jobs == 1 and args.json:
        print(json.dumps(run_seed(args, env_id)), flush=True)
        return 0
    fp_path = (
        f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')}, "
        f"threads={args.threads}"
    )
    print(
        f"{args.algo} on {env_id}, budget {args.steps or 'default'}, {fp_path}, "
        f"overrides {args.set or 'none'}; final evaluation over {args.episodes} episodes\n"
    )
    print("| seed | steps | wall s | CPU s | eval mean +- std | solved | solved at (steps, s) |")
    print("|---|---|---|---|---|---|---|", flush=True)
    base = [
        sys.executable,
        "-m",
        "benchmarks.q19_sweep",
        "--target",
        args.target,
        "--algo",
        args.algo,
        "--env",
        env_id,
        "--episodes",
        str(args.episodes),
        "--threads",
        str(args.threads),
        "--json",
    ]
    base += ["--steps", str(args.steps)] if args.steps is not None else []
    base += [f"--set={item}" for item in args.set]
    pending, running, rows = list(args.seeds), [], []
    while pending or running:
        while pending and len(running) < args.jobs:
            seed = pending.pop(0)
            running.append(
                subprocess.Popen(
                    base + ["--seeds", str(seed)],
                    cwd=ROOT,
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            )
        process = running.pop(0)
        out, _ = process.communicate()
        if process.returncode != 0 or not out.strip():
            print(f"| {process.args[-1]} | failed (exit code {process.returncode}) |", flush=True)
            continue
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        verdict = "yes" if row["mean"] >= solved else "NO"
        if args.json:
            print(json.dumps(row))
        print(
            f"| {row['seed']} | {row['steps']} | {row['wall']:.1f} | {row['cpu']:.1f} | "
            f"{row['mean']:.1f} +- {row['std']:.1f} | {verdict} | {solved_at(row)} |",
            flush=True,
        )
    if rows:
        count = sum(r["mean"] >= solved for r in rows)
        quick = sum(r.get("solved_at") is not None and r["solved_at"][1] <= 60 for r in rows)
        print(
            f"\nsolved {count} of {len(rows)} seeds; slowest: "
            f"{max(r['cpu'] for r in rows):.1f} CPU s, {max(r['steps'] for r in rows)} steps; "
            f"solved within 60 s of training: {quick} of {len(rows)}"
        )
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.q19_sweep", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--target",
        choices=("solutions", "exercises"),
        default="solutions",
        help="whose agents: the reference (default) or the exercises",
    )
    add_run_options(parser)  # --algo, --env, --steps, --threads, --onednn, --set, --episodes
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[1, 2, 3, 4, 5],
        help="the training seeds, one fresh process each",
    )
    parser.add_argument("--jobs", type=int, default=1, help="processes at once")
    parser.add_argument("--json", action="store_true", help="also print rows as JSON")
    args = parser.parse_args(argv)
    if args.onednn is not None:  # read by TensorFlow when it loads, in this process and below
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = args.onednn
    args.set = list(args.set) + ([f"threads={args.threads}"] if args.threads != 1 else [])
    cli = command_line(args.target)
    env_id = args.env or cli.DEFAULT_ENV[args.algo]
    if args.algo == "dqn" and env_id != "LunarLander-v3":
        parser.error("DQN needs discrete actions: use --env LunarLander-v3")
    return sweep(args, env_id, cli.SOLVED)


if __name__ == "__main__":
    sys.exit(main())
