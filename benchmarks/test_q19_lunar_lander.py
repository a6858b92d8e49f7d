"""Question 19 benchmarks: how fast and how reliably the reference agents land.

Run with ``nox -s benchmarks`` (or ``pytest benchmarks/test_q19_lunar_lander.py --benchmark-only
-s``). Figures are printed, never asserted: timings depend on the machine.

1. The recorded sweeps below: every seed of the slow tests' configuration, on the default
   floating-point path and on a changed one (TF_ENABLE_ONEDNN_OPTS flipped and two TensorFlow
   threads: another machine's rounding, hence another trajectory). They are how the slow tests'
   seeds, budgets and timeouts were chosen. Each table gives the command that reproduces it
   (`python -m benchmarks.q19_sweep`, see benchmarks/q19_sweep.py), and `TUNING` says why the
   agents' settings are what they are: what was measured, against which alternative.
2. Live: the slow tests' own runs, trained here once (steps, wall and CPU seconds to solve, the
   100-episode evaluation), to compare this machine with the recorded one.
3. Training throughput in environment steps per second (no evaluation, fixed budget).

"Solved at" is `TrainResult.solved_at`: the end of the first in-training evaluation of 100
episodes (on seeds of their own) whose mean reached 200, in environment steps and wall seconds
since training began (TensorFlow's import and the networks' construction aside, XLA's compilation
and the evaluations included).

CPU seconds are `time.process_time()` of the training process: on a busy machine wall time
grows, CPU time much less (one TensorFlow thread: on an idle machine wall is about CPU).
"""

import dataclasses

import numpy as np
import pytest

from solutions.q19_lunar_lander.common import SOLVED_RETURN as SOLVED

# Filled in from `python -m benchmarks.q19_sweep ...` (the command of each table).
# Rows: (seed, env steps, wall s, CPU s, mean, std of the 100-episode evaluation).
RECORDED = [
    {
        "title": "DQN on LunarLander-v3, the landing test's Config (200 000-step budget, "
        "evaluations from 30k steps, screens of 10 episodes confirmed by 90 more from 180 on, "
        "stop at a confirmed 245), seeds 1-10",
        "command": "python -m benchmarks.q19_sweep --algo dqn --seeds 1 2 3 4 5 6 7 8 "
        "9 10 --jobs 2",
        "machine": "2 cores, one TensorFlow thread, oneDNN default, two seeds at once",
        "rows": [
            (1, 120_000, 129.9, 128.7, 262.4, 32.2, (70_000, 60.4)),
            (2, 120_000, 127.7, 126.3, 252.5, 49.2, (90_000, 92.7)),
            (3, 110_000, 116.0, 115.5, 248.6, 48.7, (60_000, 58.1)),
            (4, 180_000, 184.4, 183.1, 260.5, 37.7, (120_000, 109.8)),
            (5, 200_000, 186.8, 185.8, 229.8, 63.5, (110_000, 97.6)),
            (6, 170_000, 183.5, 182.1, 254.0, 45.1, (130_000, 126.9)),
            (7, 200_000, 193.7, 192.6, 211.6, 96.3, (110_000, 100.3)),
            (8, 170_000, 145.2, 144.7, 259.4, 20.9, (130_000, 112.5)),
            (9, 170_000, 183.5, 182.6, 242.3, 63.8, (80_000, 70.4)),
            (10, 200_000, 236.4, 235.3, 245.0, 44.3, (150_000, 161.7)),
        ],
    },
    {
        "title": "Time to solve, one seed at a time: the same DQN stopping at its first "
        "confirmed 200 (the 60 s goal of issue 6 is not met: 0 of 5 within 60 s)",
        "command": "python -m benchmarks.q19_sweep --algo dqn --seeds 1 2 3 4 5 "
        "--jobs 1 --steps 160000 --set evaluation.stop_return=200",
        "machine": "2 cores, one seed at a time, one TensorFlow thread; this host ran about "
        "25 % slower that hour than during the table above (seed 1: 75.9 s alone, 60.4 s "
        "beside another seed)",
        "rows": [
            (1, 70_000, 75.9, 76.1, 194.2, 82.7, (70_000, 75.9)),
            (2, 90_000, 96.3, 96.9, 228.3, 56.2, (90_000, 96.3)),
            (3, 60_000, 65.1, 65.9, 203.9, 42.2, (60_000, 65.1)),
            (4, 120_000, 114.4, 115.1, 226.9, 55.0, (120_000, 114.4)),
            (5, 110_000, 134.5, 134.8, 229.8, 63.5, (110_000, 134.5)),
        ],
    },
    {
        "title": "The same DQN on another floating-point path (oneDNN off, two TensorFlow "
        "threads), seeds 11-14",
        "command": "python -m benchmarks.q19_sweep --algo dqn --seeds 11 12 13 14 "
        "--jobs 2 --onednn 0 --threads 2",
        "machine": "2 cores, two seeds of two threads each at once (CPU s counts both threads)",
        "rows": [
            (11, 170_000, 289.0, 224.1, 252.2, 44.9, (100_000, 187.2)),
            (12, 200_000, 311.3, 249.7, 245.9, 39.2, (90_000, 156.0)),
            (13, 200_000, 264.8, 267.5, 251.9, 41.6, (100_000, 112.8)),
            (14, 140_000, 177.9, 175.8, 238.7, 69.6, (100_000, 114.2)),
        ],
    },
    {
        "title": "Before: the same DQN stopping at 230, seeds 1-10",
        "command": "python -m benchmarks.q19_sweep --algo dqn --seeds 1 2 3 4 5 6 7 8 "
        "9 10 --jobs 2 --set evaluation.stop_return=230",
        "machine": "2 cores, one TensorFlow thread, oneDNN default, two seeds at once",
        "rows": [
            (1, 90_000, 111.5, 110.6, 226.9, 57.0),
            (2, 120_000, 124.5, 123.8, 252.5, 49.2),
            (3, 90_000, 107.5, 107.1, 225.5, 41.7),
            (4, 120_000, 142.3, 141.1, 226.9, 55.0),
            (5, 110_000, 129.1, 128.4, 229.8, 63.5),
            (6, 140_000, 152.4, 151.8, 239.6, 75.6),
            (7, 160_000, 190.3, 189.3, 211.6, 96.3),
            (8, 170_000, 202.2, 201.0, 259.4, 20.9),
            (9, 150_000, 166.0, 165.3, 218.5, 85.2),
            (10, 190_000, 241.9, 241.5, 245.0, 44.3),
        ],
    },
    {
        "title": "Stopping at 230, on another floating-point path (oneDNN off, two TensorFlow "
        "threads), seeds 11-14",
        "command": "python -m benchmarks.q19_sweep --algo dqn --seeds 11 12 13 14 "
        "--jobs 1 --onednn 0 --threads 2 --set evaluation.stop_return=230",
        "machine": "2 cores, one seed at a time",
        "rows": [
            (11, 150_000, 178.1, 192.2, 248.8, 56.7),
            (12, 90_000, 113.6, 123.1, 228.3, 58.7),
            (13, 130_000, 197.8, 213.1, 233.2, 45.2),
            (14, 120_000, 173.9, 187.9, 211.9, 95.3),
        ],
    },
    {
        "title": "Before: a 30-episode confirmation, stopping at 230, seeds 1-8",
        "command": "python -m benchmarks.q19_sweep --algo dqn --steps 200000 "
        "--seeds 1 2 3 4 5 6 7 8 --jobs 2",
        "machine": "2 cores, one TensorFlow thread, oneDNN default, two seeds at once",
        "rows": [
            (1, 90_000, 143.4, 81.0, 226.9, 57.0),
            (2, 120_000, 220.8, 113.8, 252.5, 49.2),
            (3, 110_000, 255.0, 113.3, 248.6, 48.7),
            (4, 120_000, 262.1, 126.1, 226.9, 55.0),
            (5, 200_000, 423.7, 225.0, 229.8, 63.5),
            (6, 140_000, 300.8, 156.9, 239.6, 75.6),
            (7, 200_000, 444.5, 236.4, 188.7, 118.4),
            (8, 170_000, 404.9, 201.8, 259.4, 20.9),
        ],
    },
    {
        "title": "Before (30-episode confirmation), on another floating-point path (oneDNN off, "
        "two TensorFlow threads)",
        "command": "python -m benchmarks.q19_sweep --algo dqn --seeds 9 10 1 2 "
        "--jobs 1 --onednn 0 --threads 2",
        "machine": "2 cores, one seed at a time, another sweep or CI run beside it",
        "rows": [
            (9, 150_000, 224.7, 223.4, 235.7, 53.0),
            (10, 200_000, 293.2, 273.5, 204.1, 78.6),
            (1, 100_000, 142.3, 136.1, 253.1, 37.5),
            (2, 100_000, 170.0, 161.8, 227.0, 40.5),
        ],
    },
    {
        "title": "PPO on LunarLanderContinuous-v3, the landing test's Config (90-episode "
        "confirmation, stop at 230), seeds 1-5",
        "command": "python -m benchmarks.q19_sweep --algo ppo --seeds 1 2 3 4 5 --jobs 1",
        "machine": "2 cores, one TensorFlow thread, a CI run beside it",
        "rows": [
            (1, 253_952, 119.4, 112.6, 246.9, 23.5),
            (2, 151_552, 60.4, 59.5, 262.4, 25.2),
            (3, 151_552, 57.2, 56.2, 240.4, 36.0),
            (4, 102_400, 44.5, 42.7, 248.1, 21.6),
            (5, 151_552, 56.2, 53.2, 253.6, 22.8),
        ],
    },
]

# Why the agents' settings are what they are: the measurements behind the Configs' defaults and
# the given code's design (the learner's files say only what each setting does).
TUNING = [
    (
        "DQN evaluation.confirm_episodes = 90",
        "a screen of 10 episodes confirmed by 30 more: 7 of 8 seeds solved (seed 7 averaged "
        "188.7); confirmed by 90 more, as many as the final evaluation has, so that the weights "
        "kept are not those of a lucky screen: 10 of 10 (the tables 'Before: a 30-episode "
        "confirmation' and the first one)",
    ),
    (
        "DQN evaluation.stop_return = 245",
        "stopping at a confirmed 230: 2 of 10 seeds stopped on policies that then averaged under "
        "220 with a spread over 80 (table 'Before: the same DQN stopping at 230'); at 245: 10 of "
        "10 solved, 9 of them at 220 or more with a spread under 80",
    ),
    (
        "DQN evaluation.confirm_above = 180",
        "10 evaluation episodes vary by about 20 around their policy's mean: a threshold of 200 "
        "would often leave a solving policy's screen unconfirmed",
    ),
    (
        "DQN huber_delta = 10",
        "at 1.0 it underrates crashes (no table recorded for this one)",
    ),
    (
        "DQN hidden = (128, 128), gradient_steps = 4, batch_size = 128, train_every = 8",
        "with a 128x128 network, 4 minibatches of 128 every 8 environment steps learn about as "
        "fast per step as 8 did, at half the cost; 2 are too few; a 64x64 network learns much "
        "more slowly",
    ),
    (
        "DQN speed: one compiled call per vector step, concrete functions",
        "a call into TensorFlow costs about half a millisecond even when compiled, an environment "
        "step about a tenth of that, `model.predict` tens of milliseconds; a tf.function matches "
        "its arguments against its traces in Python first, about a millisecond for five arrays, a "
        "third of the training step's call (common.traced_once skips it); a Keras model called "
        "from Python costs about a millisecond, compiled a tenth (common.as_numpy_policy)",
    ),
    (
        "PPO evaluation.confirm_episodes = 90",
        "with 30, the first confirmed mean above the goal was a lucky one (seed 1: 224.5 over 40 "
        "episodes, then 196.1 over 100 fresh ones), so a confirmation is as long as the final "
        "evaluation; with 90 and a stop at 230: 5 of 5 seeds above 240 (the PPO table)",
    ),
    (
        "PPO minibatch_size = 128",
        "many small minibatches per rollout learn much faster on the lander than a few large ones",
    ),
]


def _agents():
    from solutions.q19_lunar_lander import dqn, ppo

    return dqn, ppo


def _table(sweep):
    """A recorded sweep as a Markdown table; rows of seven fields also say when each seed was
    solved (the first in-training evaluation of 100 episodes with a mean of 200 or more)."""
    rows = sweep["rows"]
    timed = all(len(row) == 7 for row in rows)
    lines = [
        f"\n[q19] {sweep['title']}",
        f"      reproduce: {sweep['command']}",
        f"      machine: {sweep['machine']}",
        "      | seed | steps | wall s | CPU s | eval mean +- std | solved |"
        + (" solved at (steps, wall s) |" if timed else ""),
    ]
    for row in rows:
        seed, steps, wall, cpu, mean, std = row[:6]
        line = (
            f"      | {seed} | {steps} | {wall:.1f} | {cpu:.1f} | {mean:.1f} +- "
            f"{std:.1f} | {'yes' if mean >= SOLVED else 'NO'} |"
        )
        if timed:
            line += f" {'-' if row[6] is None else f'{row[6][0]}, {row[6][1]:.1f}'} |"
        lines.append(line)
    solved = sum(r[4] >= SOLVED for r in rows)
    lines.append(
        f"      solved {solved} of {len(rows)}; steps {min(r[1] for r in rows)}-"
        f"{max(r[1] for r in rows)}, CPU s {min(r[3] for r in rows):.0f}-"
        f"{max(r[3] for r in rows):.0f}, means {min(r[4] for r in rows):.1f}-"
        f"{max(r[4] for r in rows):.1f}"
    )
    if timed:
        times = sorted(r[6][1] for r in rows if r[6] is not None)
        steps = sorted(r[6][0] for r in rows if r[6] is not None)
        lines.append(
            f"      time to solve: {sum(t <= 60 for t in times)} of {len(rows)} within 60 s wall, "
            f"median {np.median(times):.0f} s ({times[0]:.0f}-{times[-1]:.0f} s), "
            f"{int(np.median(steps))} steps ({steps[0]}-{steps[-1]})"
        )
    return "\n".join(lines)


@pytest.mark.benchmark(group="q19-recorded-sweeps")
def test_recorded_sweeps(benchmark):
    text = benchmark.pedantic(
        lambda: "\n".join(_table(s) for s in RECORDED), rounds=1, iterations=1
    )
    print(text)
    print("\n[q19] Why the agents' settings are what they are:")
    for setting, finding in TUNING:
        print(f"      {setting}: {finding}")


def _steps_to_solve(benchmark, module, config, name):
    def run():
        result = module.train(config, progress=False)
        returns = module.evaluate(result.policy, config.env_id, 100, seed=config.seed)
        return result, returns

    result, returns = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(
        steps=result.steps,
        seconds=round(result.seconds, 1),
        cpu_seconds=round(result.cpu_seconds, 1),
        eval_mean=round(float(returns.mean()), 1),
        eval_std=round(float(returns.std()), 1),
    )
    solved_at = (
        "never"
        if result.solved_at is None
        else (f"at step {result.solved_at[0]} after {result.solved_at[1]:.1f} s wall")
    )
    print(
        f"\n[q19] {name}: training stopped after {result.steps} env steps, {result.seconds:.1f} s "
        f"wall, {result.cpu_seconds:.1f} s CPU (in-training evaluations {result.eval_seconds:.1f}"
        f" s wall); solved (a 100-episode in-training mean >= {SOLVED:g}) {solved_at}; 100-episode "
        f"evaluation {returns.mean():.1f} +- {returns.std():.1f} "
        f"({'solved' if returns.mean() >= SOLVED else 'NOT solved'})"
    )


@pytest.mark.timeout(1800)
@pytest.mark.benchmark(group="q19-steps-to-solve")
def test_dqn_steps_to_solve_lunar_lander(benchmark):
    from tests.test_q19_lunar_lander_agents import DQN_BUDGET, DQN_SEED

    dqn, _ = _agents()
    config = dqn.Config(seed=DQN_SEED, total_steps=DQN_BUDGET)
    _steps_to_solve(benchmark, dqn, config, f"DQN on LunarLander-v3, seed {DQN_SEED}")


@pytest.mark.timeout(1800)
@pytest.mark.benchmark(group="q19-steps-to-solve")
def test_ppo_steps_to_solve_continuous_lunar_lander(benchmark):
    from tests.test_q19_lunar_lander_agents import PPO_BUDGET, PPO_SEED

    _, ppo = _agents()
    config = ppo.Config(seed=PPO_SEED, total_steps=PPO_BUDGET)
    _steps_to_solve(benchmark, ppo, config, f"PPO on LunarLanderContinuous-v3, seed {PPO_SEED}")


@pytest.mark.timeout(1800)
@pytest.mark.benchmark(group="q19-steps-to-solve")
def test_ppo_steps_to_solve_discrete_lunar_lander(benchmark):
    """The question's DQN-versus-policy-gradient comparison, measured on the discrete lander."""
    _, ppo = _agents()
    config = ppo.Config(env_id="LunarLander-v3", seed=1, total_steps=1_000_000)
    _steps_to_solve(benchmark, ppo, config, "PPO on LunarLander-v3, seed 1")


@pytest.mark.timeout(600)
@pytest.mark.benchmark(group="q19-throughput")
@pytest.mark.parametrize(
    "algo,env_id,steps",
    [("dqn", "LunarLander-v3", 30_000), ("ppo", "LunarLanderContinuous-v3", 65_536)],
    ids=["dqn-discrete", "ppo-continuous"],
)
def test_training_throughput(benchmark, algo, env_id, steps):
    dqn, ppo = _agents()
    module = {"dqn": dqn, "ppo": ppo}[algo]
    config = dataclasses.replace(
        module.Config(env_id=env_id, seed=1), total_steps=steps, evaluation=None
    )
    if algo == "dqn":
        config = dataclasses.replace(config, learning_starts=1_000)

    result = benchmark.pedantic(
        module.train, args=(config,), kwargs={"progress": False}, rounds=1, iterations=1
    )
    rate = result.steps / result.seconds
    benchmark.extra_info.update(
        steps=result.steps, steps_per_second=round(rate), cpu_seconds=round(result.cpu_seconds, 1)
    )
    print(
        f"\n[q19] {algo} on {env_id}: {result.steps} env steps in {result.seconds:.1f} s wall, "
        f"{result.cpu_seconds:.1f} s CPU = {rate:.0f} env steps/s (training updates included)"
    )
    assert np.isfinite(result.losses).all()
