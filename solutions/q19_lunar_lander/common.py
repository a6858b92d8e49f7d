"""Question 19: what both agents share (given code: nothing to implement here).

- `seed_everything`, `training_seeds`, `EVAL_SEED_OFFSET`: one seeding rule for both agents.
  Training environments are reset with seeds `seed, seed + 1, ...`; evaluation episodes with
  seeds from `EVAL_SEED_OFFSET` on, so an agent is never judged on an episode it trained on.
- `configure_threads`, `import_tensorflow_quietly`: TensorFlow set up for small networks on a
  CPU, without its start-up log lines.
- `evaluate`: episodes of the deterministic policy, side by side, one batched policy call per
  step.
- `RunConfig`: the settings every run has (environment, seed, budget, evaluation, threads);
  both agents' Configs add their hyperparameters to it.
- `Evaluation`, `InTrainingEvaluation`: the settings of the evaluations during training (both
  agents' Configs hold one) and what runs them: a cheap screen first, a longer confirmation only
  near the goal, the best weights seen, and when to stop.
- `TrainResult`, `ProgressBar`: what `train` returns, and the bar it shows while it runs.

Keep this file as it is: `dqn.py` and `ppo.py` import from it, and a mistake in one agent never
breaks the other.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field

import numpy as np

try:  # TensorFlow without its C++ start-up lines on stderr, as every question's demo imports it
    from kata.demo import import_tensorflow_quietly
except ImportError:  # run without the kata installed: TensorFlow's usual start-up lines

    def import_tensorflow_quietly():
        """Import TensorFlow and return it."""
        import tensorflow

        return tensorflow


EVAL_SEED_OFFSET = 1_000_000
"""Evaluation episodes use reset seeds from here on; training seeds stay below it."""
SOLVED_RETURN = 200.0
"""The Lunar Lander counts as solved when the deterministic policy averages this return over
100 episodes."""
IN_TRAINING_EVAL_SEEDS = EVAL_SEED_OFFSET // 2
"""In-training evaluations use seeds from EVAL_SEED_OFFSET + this on: disjoint from the final
evaluation's seeds (EVAL_SEED_OFFSET + seed + i), so the weights are not picked on the very
episodes that judge them."""


def configure_threads(threads):
    """Ask TensorFlow for `threads` intra- and inter-op threads (only possible before first use)."""
    tf = import_tensorflow_quietly()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already initialised its thread pools: keep them
        pass


def traced_once(function, any_batch_size=False):
    """`function` (a `tf.function`), traced for the shapes and dtypes of its first call and then
    called as that one concrete function.

    Every call of a `tf.function` first matches its arguments against the traced signatures in
    Python, a sizeable part of a small training step's call; a concrete function skips that
    matching. Every later call must pass arrays of the first call's shapes and dtypes (a training
    step's minibatches always do); with `any_batch_size`, the first axis may vary (a policy acts
    for 8 environments in training, for up to 32 in evaluation).
    """
    concrete = None

    def call(*arrays):
        nonlocal concrete
        if concrete is None:
            specs = arrays
            if any_batch_size:
                tf = import_tensorflow_quietly()
                specs = [tf.TensorSpec((None, *a.shape[1:]), a.dtype) for a in arrays]
            concrete = function.get_concrete_function(*specs)
        return concrete(*arrays)

    return call


def seed_everything(seed):
    """Seed python, NumPy and TensorFlow/Keras; return a NumPy generator for the agent's own
    draws (replay sampling, exploration, action noise, minibatch shuffles)."""
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def training_seeds(seed, num_envs):
    """The reset seeds of the training environments: seed, seed + 1, ... (one per environment)."""
    assert seed + num_envs < IN_TRAINING_EVAL_SEEDS, "training seeds must stay small"
    return [seed + i for i in range(num_envs)]


def as_numpy_policy(policy):
    """`policy` as a function from a NumPy batch of observations to a NumPy batch of actions.

    A Keras model is called through one compiled function, much cheaper per call than the model
    called from Python: an evaluation makes thousands of calls.
    """
    import keras

    if not isinstance(policy, keras.Model):
        return lambda obs: np.asarray(policy(obs))
    tf = import_tensorflow_quietly()
    compiled = tf.function(lambda obs: policy(obs, training=False), reduce_retracing=True)
    return lambda obs: compiled(np.asarray(obs, dtype=np.float32)).numpy()


def evaluate(policy, env_id, episodes, seed, max_envs=32):
    """Run `episodes` episodes with the deterministic `policy`; return their returns (episodes,).

    Episode i is reset with seed EVAL_SEED_OFFSET + seed + i, disjoint from the training seeds.
    Up to `max_envs` episodes run side by side and the policy is called once per step for all
    of them; an environment whose episode ended starts the next pending episode, and one with
    nothing left to do is no longer stepped (a vector environment would keep stepping it).
    """
    import gymnasium as gym

    act = as_numpy_policy(policy)
    pending = list(range(episodes))[::-1]  # episode numbers, the next one last
    returns = np.zeros(episodes)
    envs, obs, running = [], [], []  # per slot: env, current observation, episode number
    for _ in range(min(episodes, max_envs)):
        envs.append(gym.make(env_id))
        obs.append(None)
        running.append(None)

    def start(slot):
        episode = pending.pop()
        obs[slot], _ = envs[slot].reset(seed=EVAL_SEED_OFFSET + seed + episode)
        running[slot] = episode

    for slot in range(len(envs)):
        start(slot)
    while True:
        slots = [s for s in range(len(envs)) if running[s] is not None]
        if not slots:
            break
        actions = act(np.stack([obs[s] for s in slots]))
        for slot, action in zip(slots, actions, strict=True):
            obs[slot], reward, terminated, truncated, _ = envs[slot].step(action)
            returns[running[slot]] += float(reward)
            if terminated or truncated:
                running[slot] = None
                if pending:
                    start(slot)
    for env in envs:
        env.close()
    return returns


@dataclass
class TrainResult:
    """What `train` returns."""

    policy: object
    """the trained policy: `evaluate(policy, ...)` runs it deterministically"""
    curve: list[tuple[int, float]] = field(default_factory=list)
    """the learning curve: (environment step at the episode's end, episode return)"""
    steps: int = 0
    """environment steps actually taken (less than total_steps if training stopped early)"""
    seconds: float = 0.0
    """wall-clock seconds of training, in-training evaluations included"""
    cpu_seconds: float = 0.0
    """CPU seconds of this process during training, all threads (other load barely counts)"""
    eval_seconds: float = 0.0
    """wall-clock seconds of the in-training evaluations (included in `seconds`)"""
    eval_cpu_seconds: float = 0.0
    """CPU seconds of the in-training evaluations (included in `cpu_seconds`)"""
    losses: list[float] = field(default_factory=list)
    """the mean loss of each update"""
    evaluations: list[tuple[int, float, int]] = field(default_factory=list)
    """in-training evaluations: (environment step, mean return, number of episodes)"""
    solved_at: tuple[int, float] | None = None
    """(step, wall seconds) when an evaluation of 100+ episodes first averaged SOLVED_RETURN"""


@dataclass(frozen=True)
class Evaluation:
    """When and how `train` evaluates the deterministic policy while it trains (`Config.evaluation`
    of both agents; None there: no in-training evaluation)."""

    every: int
    """environment steps between in-training evaluations"""
    start: int
    """no in-training evaluation before this many environment steps"""
    screen_episodes: int = 10
    """deterministic episodes of every in-training evaluation (a cheap, noisy screen)"""
    confirm_above: float = 200.0
    """a screen with at least this mean is confirmed by confirm_episodes more episodes"""
    confirm_episodes: int = 90
    """extra episodes that confirm a good screen; only a confirmed mean may stop the run"""
    stop_return: float | None = 230.0
    """stop once a confirmed in-training evaluation reaches this mean return (None: never)"""
    restore_best: bool = True
    """at the end, go back to the weights of the best in-training evaluation"""


@dataclass
class RunConfig:
    """The settings of every training run, whichever the agent: `train`, `InTrainingEvaluation`
    and the command line read them. Each agent's `Config` adds its hyperparameters and sets its
    own defaults for these."""

    env_id: str = "LunarLander-v3"
    """the gymnasium environment id"""
    seed: int = 1
    """seed of python, numpy, TensorFlow and the environments"""
    total_steps: int = 200_000
    """the training budget in environment steps, summed over the vector environments"""
    num_envs: int = 8
    """number of environments stepped together (one batched action call per vector step)"""
    evaluation: Evaluation | None = None
    """in-training evaluations: when, how many episodes, when to stop (None: none)"""
    threads: int = 1
    """TensorFlow intra- and inter-op threads (1 is fastest for networks this small)"""
    jit_compile: bool = False
    """compile the training step with XLA (faster per step; a few seconds to compile)"""


class InTrainingEvaluation:
    """Evaluations during training: a screen, a confirmation, the best weights, when to stop.

    Every `every` steps from `start` on (and at the end of the budget), `screen_episodes`
    episodes of the deterministic policy are played. Only when their mean reaches
    `confirm_above` are `confirm_episodes` more played: an evaluation of few episodes is cheap
    but noisy, and a lucky one must not stop the run or pick the weights. The weights of the
    best evaluation are kept (confirmed ones rank above screens), and training stops once a
    confirmed mean reaches `stop_return`.

    `config` is the agent's Config (its `evaluation`, `env_id` and `seed` are read); `model` is
    the Keras model whose weights define the policy (its `get_weights()` and `set_weights()`
    keep and restore the best ones).
    """

    def __init__(self, config, policy, model, bar):
        self.settings, self.env_id = config.evaluation, config.env_id
        self.policy, self.model, self.bar = policy, model, bar
        settings = self.settings
        self.next = max(settings.start, settings.every) if settings and settings.every else None
        self.best = ((False, -np.inf), None)  # ((confirmed, mean), weights)
        self.seed = config.seed + IN_TRAINING_EVAL_SEEDS

    def due(self, step, last=False):
        """True when an evaluation is due at `step` (`last`: the budget is spent)."""
        return self.next is not None and (step >= self.next or last)

    def __call__(self, step, result):
        """Evaluate at `step`, record it in `result`; return True when training should stop."""
        settings = self.settings
        start, cpu_start = time.perf_counter(), time.process_time()
        while self.next <= step:
            self.next += settings.every
        returns = evaluate(self.policy, self.env_id, settings.screen_episodes, self.seed)
        confirmed = bool(returns.mean() >= settings.confirm_above)
        if confirmed and settings.confirm_episodes:
            more = evaluate(
                self.policy, self.env_id, settings.confirm_episodes, self.seed + len(returns)
            )
            returns = np.concatenate([returns, more])
        mean = float(returns.mean())
        result.evaluations.append((step, mean, len(returns)))
        if result.solved_at is None and len(returns) >= 100 and mean >= SOLVED_RETURN:
            result.solved_at = (step, time.perf_counter() - self.bar.start)
        self.bar.write(
            f"step {step}: evaluation {mean:.1f} +- {returns.std():.1f} ({len(returns)} episodes)"
        )
        if (confirmed, mean) > self.best[0]:
            self.best = ((confirmed, mean), self.model.get_weights())
        result.eval_seconds += time.perf_counter() - start
        result.eval_cpu_seconds += time.process_time() - cpu_start
        return confirmed and settings.stop_return is not None and mean >= settings.stop_return

    def restore_best(self):
        """Go back to the weights of the best evaluation (if `restore_best` and there was one)."""
        if self.settings and self.settings.restore_best and self.best[1] is not None:
            self.model.set_weights(self.best[1])


class ProgressBar:
    """A tqdm bar on stderr (steps, steps per second, recent mean return), refreshed a few times
    per second; silent when `enabled` is false. Also times the run (wall and CPU seconds)."""

    def __init__(self, total, enabled, desc):
        from tqdm.auto import tqdm

        options = dict(file=sys.stderr, mininterval=0.25, smoothing=0.1, dynamic_ncols=True)
        try:  # `pytest --plain` or NO_COLOR: one line per 10 % instead of a redrawn bar
            from kata.plain import tqdm_options
        except ImportError:  # run without the kata installed: the usual bar
            pass
        else:
            options.update(tqdm_options(total, sys.stderr))
        self.bar = tqdm(total=total, desc=desc, unit="step", disable=not enabled, **options)
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        self.last = self.start

    def update(self, n, curve, **extra):
        """Count `n` more steps; every half second show the mean of the last 20 returns."""
        self.bar.update(n)
        if self.bar.disable or time.perf_counter() - self.last < 0.5:
            return
        self.last = time.perf_counter()
        recent = [ret for _, ret in curve[-20:]]
        fields = {"return": f"{np.mean(recent):.1f}" if recent else "-"}
        fields.update({k: f"{v:.3g}" for k, v in extra.items()})
        self.bar.set_postfix(fields, refresh=False)

    def write(self, text):
        if not self.bar.disable:
            self.bar.write(text, file=sys.stderr)

    def close(self, result, steps):
        """Stop the bar and record the steps and the wall and CPU seconds in `result`."""
        self.bar.close()
        result.steps = steps
        result.seconds = time.perf_counter() - self.start
        result.cpu_seconds = time.process_time() - self.cpu_start
        return result
