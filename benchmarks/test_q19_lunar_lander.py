"""Question 19 benchmarks: how fast the reference agents land, DQN against policy gradients.

Run with ``pytest benchmarks/test_q19_lunar_lander.py --benchmark-only -s`` (about 4 minutes on
2 cores). Figures are printed, never asserted (timings depend on the machine):

- steps and wall-clock seconds until an in-training evaluation (20 episodes, deterministic
  policy) first reaches a mean of 200, then the 100-episode evaluation of that policy on other
  seeds: DQN on LunarLander-v3, PPO on LunarLanderContinuous-v3, PPO on the discrete
  LunarLander-v3 (the question's DQN-versus-policy-gradient comparison, measured);
- training throughput in environment steps per second (no evaluation, fixed budget).
"""

import dataclasses

import numpy as np
import pytest

SEED = 1
SOLVED = 200.0


def _agents():
    from solutions.q19_lunar_lander import dqn, ppo

    return dqn, ppo


def _report(name, result, returns):
    first = next((e[0] for e in result.evaluations if e[1] >= SOLVED), None)
    print(
        f"\n[q19] {name}: training stopped after {result.steps} env steps, {result.seconds:.1f} s "
        f"({result.steps / result.seconds:.0f} steps/s); first in-training mean >= {SOLVED:g} at "
        f"step {first}; 100-episode evaluation {returns.mean():.1f} +- {returns.std():.1f} "
        f"({'solved' if returns.mean() >= SOLVED else 'NOT solved'})"
    )


def _steps_to_solve(benchmark, module, config, name):
    def run():
        result = module.train(config, progress=False)
        returns = module.evaluate(result.policy, config.env_id, 100, seed=config.seed)
        return result, returns

    result, returns = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(steps=result.steps, seconds=round(result.seconds, 1),
                                eval_mean=round(float(returns.mean()), 1),
                                eval_std=round(float(returns.std()), 1))
    _report(name, result, returns)


@pytest.mark.timeout(900)
@pytest.mark.benchmark(group="q19-steps-to-solve")
def test_dqn_steps_to_solve_lunar_lander(benchmark):
    dqn, _ = _agents()
    config = dqn.Config(seed=SEED, total_steps=200_000, eval_start=20_000, eval_every=10_000,
                        stop_return=SOLVED)
    _steps_to_solve(benchmark, dqn, config, "DQN on LunarLander-v3")


@pytest.mark.timeout(900)
@pytest.mark.benchmark(group="q19-steps-to-solve")
def test_ppo_steps_to_solve_continuous_lunar_lander(benchmark):
    _, ppo = _agents()
    config = ppo.Config(seed=SEED, total_steps=1_000_000, eval_start=100_000, eval_every=50_000,
                        stop_return=SOLVED)
    _steps_to_solve(benchmark, ppo, config, "PPO on LunarLanderContinuous-v3")


@pytest.mark.timeout(900)
@pytest.mark.benchmark(group="q19-steps-to-solve")
def test_ppo_steps_to_solve_discrete_lunar_lander(benchmark):
    _, ppo = _agents()
    config = ppo.Config(env_id="LunarLander-v3", seed=SEED, total_steps=1_000_000,
                        eval_start=100_000, eval_every=50_000, stop_return=SOLVED)
    _steps_to_solve(benchmark, ppo, config, "PPO on LunarLander-v3")


@pytest.mark.timeout(300)
@pytest.mark.benchmark(group="q19-throughput")
@pytest.mark.parametrize("algo,env_id,steps", [
    ("dqn", "LunarLander-v3", 30_000),
    ("ppo", "LunarLanderContinuous-v3", 65_536),
], ids=["dqn-discrete", "ppo-continuous"])
def test_training_throughput(benchmark, algo, env_id, steps):
    dqn, ppo = _agents()
    module = {"dqn": dqn, "ppo": ppo}[algo]
    config = dataclasses.replace(module.Config(env_id=env_id, seed=SEED), total_steps=steps,
                                 eval_every=0)
    if algo == "dqn":
        config = dataclasses.replace(config, learning_starts=1_000)

    result = benchmark.pedantic(module.train, args=(config,), kwargs={"progress": False},
                                rounds=1, iterations=1)
    rate = result.steps / result.seconds
    benchmark.extra_info.update(steps=result.steps, steps_per_second=round(rate))
    print(f"\n[q19] {algo} on {env_id}: {result.steps} env steps in {result.seconds:.1f} s = "
          f"{rate:.0f} env steps/s (training updates included)")
    assert np.isfinite(result.losses).all()
