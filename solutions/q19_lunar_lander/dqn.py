"""Question 19, part 3: a DQN agent that lands the discrete Lunar Lander.

`LunarLander-v3` has four discrete actions, so a Q-network can score every action in one forward
pass and act greedily with an argmax. This file is the whole agent, readable top to bottom:
the hyperparameters, the Q-network, the compiled action selection and training step, and the
training loop on gymnasium's vector environments. It is built from `blocks.py`
(`ReplayBuffer`, `linear_epsilon`, `double_dqn_targets`).

What you implement (the fenced regions):

1. `greedy_actions`: the action with the highest Q-value, batched over environments.
2. `train_step`: Double DQN targets from the target network, the Huber loss on Q(s, a), one
   optimizer step; several minibatches per call so that TensorFlow is entered rarely.
3. `update_target`: move the target network towards the online one (a copy when tau = 1).
4. In `train`: pass on only real steps. Gymnasium's vector environments reset an ended
   sub-environment on the *next* call to `step` (autoreset mode NEXT_STEP): that call ignores the
   action and returns the first observation of the new episode with reward 0. The pair
   (last observation of the old episode, first observation of the new one) is no transition of
   the MDP and must not go into the replay buffer. Pass `terminated` and `truncated` apart,
   never `terminated | truncated`: a time-limit cut still bootstraps.

Given (read them): `NStepTransitions` turns steps into 3-step transitions (the reward of a landing
reaches the states that led to it three times faster than with one-step targets); the learning
rate decays linearly over the budget; in-training evaluations on their own seeds may stop the
run early, and the best evaluated weights are kept.

Speed matters: every call into TensorFlow costs about a quarter of a millisecond even when
compiled, an environment step a few hundredths. So actions are chosen for all environments in one
compiled call, and one compiled call runs `gradient_steps` minibatches; `model.predict` (tens of
milliseconds) is never called in the loop.

Run it: ``python -m solutions.q19_lunar_lander train --algo dqn``.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .blocks import ReplayBuffer, double_dqn_targets, linear_epsilon

EVAL_SEED_OFFSET = 1_000_000
"""Evaluation episodes use reset seeds from here on; training seeds stay below it."""


@dataclass
class Config:
    """The hyperparameters of a DQN run (defaults tuned for LunarLander-v3 on 2 CPU cores)."""

    env_id: str = "LunarLander-v3"
    """the gymnasium environment id (a discrete action space)"""
    seed: int = 1
    """seed of python, numpy, TensorFlow and the environments"""
    total_steps: int = 200_000
    """the training budget in environment steps, summed over the vector environments"""
    num_envs: int = 8
    """number of environments stepped together (one batched action call per vector step)"""
    hidden: tuple[int, ...] = (256, 256)
    """widths of the Q-network's hidden ReLU layers"""
    learning_rate: float = 1e-3
    """Adam learning rate at the first update"""
    final_learning_rate: float = 1e-4
    """Adam learning rate at the end of the budget (linear decay in between)"""
    clipnorm: float = 10.0
    """gradients are clipped to this global norm"""
    buffer_size: int = 100_000
    """capacity of the replay buffer in transitions"""
    batch_size: int = 128
    """transitions per minibatch"""
    gamma: float = 0.99
    """discount factor"""
    n_step: int = 3
    """rewards summed per stored transition before bootstrapping (1: plain one-step DQN)"""
    huber_delta: float = 10.0
    """Huber loss: quadratic below this TD error, linear above (at 1.0 it underrates crashes)"""
    learning_starts: int = 5_000
    """environment steps of (random) experience collected before the first update"""
    train_every: int = 8
    """environment steps between two calls of the training step"""
    gradient_steps: int = 8
    """minibatches (optimizer steps) per call of the training step"""
    target_update_every: int = 250
    """optimizer steps between two updates of the target network"""
    tau: float = 1.0
    """target update: target <- tau * online + (1 - tau) * target (1.0: a hard copy)"""
    epsilon_start: float = 1.0
    """exploration rate at the start"""
    epsilon_end: float = 0.05
    """exploration rate after the decay"""
    exploration_fraction: float = 0.15
    """fraction of total_steps over which epsilon decays linearly"""
    eval_every: int = 10_000
    """environment steps between in-training evaluations (0: none)"""
    eval_start: int = 40_000
    """no in-training evaluation before this many environment steps"""
    eval_episodes: int = 50
    """greedy episodes per in-training evaluation (fewer: a lucky evaluation picks the weights)"""
    stop_return: float | None = 220.0
    """stop training once an in-training evaluation reaches this mean return (None: never)"""
    confirm_episodes: int = 50
    """extra episodes that must confirm an evaluation above stop_return before stopping"""
    restore_best: bool = True
    """at the end, go back to the weights of the best in-training evaluation"""
    threads: int = 1
    """TensorFlow intra- and inter-op threads (1 is fastest for networks this small)"""
    jit_compile: bool = True
    """compile the training step with XLA (about twice as fast on a CPU)"""


@dataclass
class TrainResult:
    """What `train` returns."""

    policy: GreedyPolicy
    """the trained greedy policy; `policy.q_network` is the Keras Q-network"""
    curve: list[tuple[int, float]] = field(default_factory=list)
    """the learning curve: (environment step at the episode's end, episode return)"""
    steps: int = 0
    """environment steps actually taken (less than total_steps if training stopped early)"""
    seconds: float = 0.0
    """wall-clock seconds of training, in-training evaluations included"""
    losses: list[float] = field(default_factory=list)
    """the mean loss of each training-step call"""
    evaluations: list[tuple[int, float]] = field(default_factory=list)
    """in-training evaluations: (environment step, mean greedy return)"""


def configure_threads(threads):
    """Ask TensorFlow for `threads` intra- and inter-op threads (only possible before first use)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already initialised its thread pools: keep them
        pass


def build_q_network(obs_dim, n_actions, hidden):
    """An MLP from an observation (obs_dim,) to one Q-value per action (n_actions,)."""
    import keras

    layers = [keras.Input((obs_dim,))]
    layers += [keras.layers.Dense(width, activation="relu") for width in hidden]
    layers += [keras.layers.Dense(n_actions)]
    return keras.Sequential(layers)


class GreedyPolicy:
    """Acts greedily with a Q-network: `policy(obs)` maps (n, obs_dim) to (n,) int64 actions."""

    def __init__(self, q_network):
        import tensorflow as tf

        self.q_network = q_network

        @tf.function(reduce_retracing=True)
        def greedy_actions(obs):
            """(n, obs_dim) float32 -> (n,) int64: the action with the highest Q-value."""
            # BEGIN SOLUTION: score every action with the Q-network and take the argmax
            return tf.argmax(q_network(obs), axis=-1, output_type=tf.int64)
            # END SOLUTION

        self.greedy_actions = greedy_actions

    def __call__(self, obs):
        return self.greedy_actions(np.asarray(obs, dtype=np.float32)).numpy()


def make_train_step(q_network, target_network, optimizer, config):
    """The compiled training step: `train_step(obs, actions, rewards, next_obs, terminated)` with
    every argument stacked as (gradient_steps, batch, ...) runs one optimizer step per minibatch
    and returns the mean loss (a scalar tensor). The rewards are n-step returns, so the targets
    bootstrap with gamma ** n_step."""
    import keras
    import tensorflow as tf

    huber = keras.losses.Huber(delta=config.huber_delta)

    @tf.function(jit_compile=config.jit_compile)
    def train_step(obs, actions, rewards, next_obs, terminated):
        # obs, next_obs (G, B, obs_dim); actions (G, B) int64; rewards, terminated (G, B)
        total = tf.constant(0.0)
        for g in tf.range(tf.shape(obs)[0]):
            # BEGIN SOLUTION: Double DQN targets, Huber loss on Q(s, a), one clipped Adam step
            targets = double_dqn_targets(  # (B,), constants for the gradient
                rewards[g], q_network(next_obs[g]), target_network(next_obs[g]),
                terminated[g], config.gamma**config.n_step)
            with tf.GradientTape() as tape:
                q_taken = tf.gather(q_network(obs[g]), actions[g], axis=-1, batch_dims=1)  # (B,)
                loss = huber(tf.stop_gradient(targets), q_taken)
            grads = tape.gradient(loss, q_network.trainable_variables)
            optimizer.apply_gradients(zip(grads, q_network.trainable_variables, strict=True))
            # END SOLUTION
            total += loss
        return total / tf.cast(tf.shape(obs)[0], tf.float32)

    return train_step


def make_update_target(q_network, target_network, tau=1.0):
    """The compiled target update: every target weight moves to tau * online + (1 - tau) * target
    (tau = 1: a hard copy)."""
    import tensorflow as tf

    @tf.function
    def update_target():
        # BEGIN SOLUTION: move each target weight towards the matching online weight by tau
        for target_w, online_w in zip(target_network.weights, q_network.weights, strict=True):
            target_w.assign(tau * online_w + (1.0 - tau) * target_w)
        # END SOLUTION

    return update_target


class NStepTransitions:
    """Turns the steps of each vector environment into n-step transitions for the replay buffer.

    A stored transition (s_t, a_t, R, s_{t+n}, terminated) has R = r_t + gamma r_{t+1} + ...
    + gamma^(n-1) r_{t+n-1}, and its target bootstraps with gamma^n. When an episode terminates
    within the n steps, R stops there and the transition is stored as terminated (no bootstrap).
    When the time limit cuts it short, the transitions that lack n steps are dropped (they could
    only bootstrap with a smaller power of gamma); the full ones keep bootstrapping.
    """

    def __init__(self, num_envs, n, gamma):
        self.n, self.gamma = n, gamma
        self.pending = [[] for _ in range(num_envs)]  # per env: [(obs, action, reward), ...]

    def add(self, obs, actions, rewards, next_obs, terminated, truncated, real):
        """One vector step; `real[i]` is False where env i only reset. Returns the completed
        transitions as arrays (obs, actions, rewards, next_obs, terminated), one row each."""
        out = []
        for i in np.flatnonzero(real):
            queue = self.pending[i]
            queue.append((obs[i], actions[i], rewards[i]))
            if terminated[i]:  # every pending transition ends here, without bootstrap
                while queue:
                    out.append(self._emit(queue, next_obs[i], 1.0))
            elif len(queue) == self.n:
                out.append(self._emit(queue, next_obs[i], 0.0))
            if terminated[i] or truncated[i]:
                queue.clear()
        if not out:
            return None
        return tuple(np.array(column) for column in zip(*out, strict=True))

    def _emit(self, queue, next_obs, terminated):
        rewards = np.array([r for _, _, r in queue])
        ret = float(np.sum(rewards * self.gamma ** np.arange(len(rewards))))
        first_obs, first_action, _ = queue.pop(0)
        return first_obs, first_action, np.float32(ret), next_obs, np.float32(terminated)


def training_seeds(config):
    """The reset seeds of the training environments: seed, seed + 1, ... (one per environment)."""
    return [config.seed + i for i in range(config.num_envs)]


def evaluate(policy, env_id, episodes, seed, max_envs=50):
    """Run `episodes` episodes with `policy` (greedy) and return their returns, shape (episodes,).

    Episode i is reset with seed EVAL_SEED_OFFSET + seed + i, disjoint from the training seeds.
    Episodes run side by side in a vector environment, `max_envs` at a time, so that the policy
    is called once per step for all of them.
    """
    import gymnasium as gym

    seeds = [EVAL_SEED_OFFSET + seed + i for i in range(episodes)]
    returns = []
    for start in range(0, episodes, max_envs):
        wave = seeds[start:start + max_envs]
        envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id)] * len(wave))
        obs, _ = envs.reset(seed=wave)
        total = np.zeros(len(wave))
        running = np.ones(len(wave), dtype=bool)
        while running.any():
            obs, rewards, terminated, truncated, _ = envs.step(policy(obs))
            total += np.where(running, rewards, 0.0)
            running &= ~(terminated | truncated)
        envs.close()
        returns.append(total)
    return np.concatenate(returns)


def train(config=None, progress=True):
    """Train a DQN agent as `config` says and return a `TrainResult`."""
    import gymnasium as gym
    import keras

    config = config or Config()
    assert config.seed + config.num_envs < EVAL_SEED_OFFSET // 2, "training seeds must stay small"
    configure_threads(config.threads)

    # ---- seeding: every source of randomness ----
    random.seed(config.seed)
    np.random.seed(config.seed)
    keras.utils.set_random_seed(config.seed)  # python, numpy and TensorFlow
    rng = np.random.default_rng(config.seed)  # replay sampling and epsilon draws
    envs = gym.vector.SyncVectorEnv(  # autoreset mode NEXT_STEP, gymnasium's default
        [lambda: gym.make(config.env_id)] * config.num_envs)
    obs, _ = envs.reset(seed=training_seeds(config))
    envs.action_space.seed(config.seed)

    # ---- networks, optimizer, replay ----
    obs_dim = envs.single_observation_space.shape[0]
    n_actions = int(envs.single_action_space.n)
    q_network = build_q_network(obs_dim, n_actions, config.hidden)
    target_network = build_q_network(obs_dim, n_actions, config.hidden)
    target_network.set_weights(q_network.get_weights())
    updates = max(1, (config.total_steps - config.learning_starts) // config.train_every)
    learning_rate = keras.optimizers.schedules.PolynomialDecay(
        config.learning_rate, updates * config.gradient_steps, config.final_learning_rate)
    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=config.clipnorm)
    policy = GreedyPolicy(q_network)
    train_step = make_train_step(q_network, target_network, optimizer, config)
    update_target = make_update_target(q_network, target_network, config.tau)
    buffer = ReplayBuffer(config.buffer_size, (obs_dim,))
    collector = NStepTransitions(config.num_envs, config.n_step, config.gamma)

    # ---- the loop ----
    result = TrainResult(policy=policy)
    n = config.num_envs
    episode_return = np.zeros(n)
    autoreset = np.zeros(n, dtype=bool)  # True: this env's next step() is a reset, not a move
    optimizer_steps, last_target_update, next_train = 0, 0, config.learning_starts
    next_eval = max(config.eval_start, config.eval_every) if config.eval_every else None
    best = (-np.inf, None)  # (mean return, weights) of the best in-training evaluation
    bar = ProgressBar(config.total_steps, progress, "DQN " + config.env_id)
    start = time.perf_counter()
    step = 0
    while step < config.total_steps:
        epsilon = linear_epsilon(step, config.epsilon_start, config.epsilon_end,
                                 config.exploration_fraction * config.total_steps)
        actions = envs.action_space.sample()  # (n,) random actions
        explore = rng.random(n) < epsilon
        if not explore.all():
            actions = np.where(explore, actions, policy(obs))
        next_obs, rewards, terminated, truncated, _ = envs.step(actions)

        # BEGIN SOLUTION: pass on the real steps only (not the reset steps), with terminated
        real = ~autoreset
        completed = collector.add(obs, actions, rewards, next_obs, terminated, truncated, real)
        # END SOLUTION
        if completed is not None:
            buffer.add(*completed)

        episode_return += np.where(autoreset, 0.0, rewards)
        step += n
        for i in np.flatnonzero(terminated | truncated):
            result.curve.append((step, float(episode_return[i])))
        episode_return[terminated | truncated] = 0.0
        autoreset = terminated | truncated
        obs = next_obs

        if step >= next_train:
            next_train = step + config.train_every
            batch = buffer.sample(config.gradient_steps * config.batch_size, rng)
            shape = (config.gradient_steps, config.batch_size)
            loss = train_step(*(x.reshape(shape + x.shape[1:]) for x in batch))
            result.losses.append(float(loss))
            optimizer_steps += config.gradient_steps
            if optimizer_steps - last_target_update >= config.target_update_every:
                update_target()
                last_target_update = optimizer_steps

        bar.update(n)
        if bar.due():
            bar.report(result.curve, epsilon=epsilon)
        last = step >= config.total_steps
        if next_eval is not None and (step >= next_eval or last):
            next_eval += config.eval_every
            eval_seed = config.seed + EVAL_SEED_OFFSET // 2
            returns = evaluate(policy, config.env_id, config.eval_episodes, seed=eval_seed)
            if config.stop_return is not None and returns.mean() >= config.stop_return:
                # a greedy DQN policy often lands or crashes: confirm a good score on more
                # episodes before stopping on it
                returns = np.concatenate([returns, evaluate(
                    policy, config.env_id, config.confirm_episodes,
                    seed=eval_seed + config.eval_episodes)])
            mean = float(np.mean(returns))
            result.evaluations.append((step, mean))
            bar.write(f"step {step}: greedy evaluation {mean:.1f} ({len(returns)} episodes)")
            if mean > best[0]:
                best = (mean, q_network.get_weights())
            if config.stop_return is not None and mean >= config.stop_return:
                break
    if config.restore_best and best[1] is not None:
        q_network.set_weights(best[1])  # the policy of the best in-training evaluation
    result.steps = step
    result.seconds = time.perf_counter() - start
    bar.close()
    envs.close()
    return result


class ProgressBar:
    """A tqdm bar on stderr (steps, steps per second, recent mean return), refreshed a few times
    per second; silent when `enabled` is false."""

    def __init__(self, total, enabled, desc):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="step", file=sys.stderr, disable=not enabled,
                        mininterval=0.25, smoothing=0.1, dynamic_ncols=True)
        self.last = time.perf_counter()

    def update(self, n):
        self.bar.update(n)

    def due(self):
        return time.perf_counter() - self.last >= 0.5

    def report(self, curve, **extra):
        self.last = time.perf_counter()
        recent = [ret for _, ret in curve[-20:]]
        fields = {"return": f"{np.mean(recent):.1f}" if recent else "-"}
        fields.update({k: f"{v:.3g}" for k, v in extra.items()})
        self.bar.set_postfix(fields, refresh=False)

    def write(self, text):
        if not self.bar.disable:
            self.bar.write(text, file=sys.stderr)

    def close(self):
        self.bar.close()
