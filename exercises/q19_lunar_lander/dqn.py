"""Question 19, part 3: a DQN agent that lands the discrete Lunar Lander.

`LunarLander-v3` has four discrete actions, so a Q-network can score every action in one forward
pass and act greedily with an argmax. This file is the whole agent, readable top to bottom: the
hyperparameters, the Q-network and its greedy policy, the compiled training step, and `train`,
the loop on gymnasium's vector environments. It is built from `blocks.py` (`ReplayBuffer`,
`linear_epsilon`, `double_dqn_targets`) and the given `common.py` (seeding, evaluation).

What you implement (the fenced functions):

1. `greedy_actions` (inside `GreedyPolicy`): the action with the highest Q-value, batched.
2. `gradient_step`: Double DQN targets from the target network, the Huber loss on Q(s, a), one
   optimizer step. The compiled `train_step` calls it once per minibatch.
3. `update_target`: move the target network towards the online one (a copy when tau = 1).
4. `store_transitions`: pass on only real steps. Gymnasium's vector environments reset an ended
   sub-environment on the *next* call to `step` (autoreset mode NEXT_STEP): that call ignores the
   action and returns the first observation of the new episode with reward 0. The pair
   (last observation of the old episode, first observation of the new one) is no transition of
   the MDP and must not go into the replay buffer. Pass `terminated` and `truncated` apart,
   never `terminated | truncated`: a time-limit cut still bootstraps.

Given (read them): `NStepTransitions` turns steps into 3-step transitions (the reward of a landing
reaches the states that led to it three times faster than with one-step targets); exploration
and the learning rate decay over fixed numbers of steps, so the budget only says when to give
up; in-training evaluations on their own seeds may stop the run early, and the best evaluated
weights are kept.

Speed matters: a call into TensorFlow costs more than an environment step. So actions are chosen
for all environments in one compiled call, one compiled call runs `gradient_steps` minibatches,
both go to concrete functions (`common.traced_once`), and `model.predict` is never called in the
loop.

Run it: ``python -m solutions.q19_lunar_lander train --algo dqn``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import common
from .blocks import Batch, ReplayBuffer, double_dqn_targets, linear_epsilon
from .common import Evaluation, TrainResult, evaluate

__all__ = ["Config", "Evaluation", "GreedyPolicy", "TrainResult", "evaluate", "train"]


@dataclass
class Config(common.RunConfig):
    """The hyperparameters of a DQN run (defaults tuned for LunarLander-v3 on 2 CPU cores).

    Every run's settings (env_id, seed, total_steps, num_envs, evaluation, threads, jit_compile)
    are described in `common.RunConfig`; this agent's defaults for them come first."""

    env_id: str = "LunarLander-v3"  # a discrete action space
    total_steps: int = 200_000
    num_envs: int = 8
    evaluation: Evaluation | None = Evaluation(
        every=10_000, start=30_000, confirm_above=180.0, stop_return=245.0
    )
    jit_compile: bool = True
    hidden: tuple[int, ...] = (128, 128)
    """widths of the Q-network's hidden ReLU layers"""
    learning_rate: float = 1e-3
    """Adam learning rate at the first update"""
    final_learning_rate: float = 1e-4
    """Adam learning rate after learning_rate_decay_steps (linear decay in between)"""
    learning_rate_decay_steps: int = 150_000
    """environment steps over which the learning rate decays (the budget does not change it)"""
    clipnorm: float = 10.0
    """gradients are clipped to this global norm"""
    buffer_size: int = 50_000
    """capacity of the replay buffer in transitions"""
    batch_size: int = 128
    """transitions per minibatch"""
    gamma: float = 0.99
    """discount factor"""
    n_step: int = 3
    """rewards summed per stored transition before bootstrapping (1: plain one-step DQN)"""
    huber_delta: float = 10.0
    """Huber loss: quadratic below this TD error, linear above"""
    learning_starts: int = 5_000
    """environment steps of (random) experience collected before the first update"""
    train_every: int = 8
    """environment steps between two calls of the training step"""
    gradient_steps: int = 4
    """minibatches per call of the training step (a transition is replayed about 64 times)"""
    target_update_every: int = 100
    """optimizer steps between two updates of the target network"""
    tau: float = 1.0
    """target update: target <- tau * online + (1 - tau) * target (1.0: a hard copy)"""
    epsilon_start: float = 1.0
    """exploration rate at the start"""
    epsilon_end: float = 0.05
    """exploration rate after the decay"""
    exploration_steps: int = 22_500
    """environment steps over which epsilon decays linearly"""


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
            raise NotImplementedError("score every action with the Q-network and take the argmax")

        self.greedy_actions = greedy_actions
        self.act = common.traced_once(greedy_actions, any_batch_size=True)

    def __call__(self, obs):
        return self.act(np.asarray(obs, dtype=np.float32)).numpy()


def gradient_step(q_network, target_network, optimizer, loss_fn, discount, batch):
    """One Double DQN optimizer step on one minibatch; returns its loss (a scalar tensor).

    TensorFlow ops only: the compiled `train_step` calls this once per minibatch. `batch` is a
    `blocks.Batch` of tensors: obs, next_obs (B, obs_dim) float32; actions (B,) int64; rewards
    (B,) float32, the n-step returns; terminated (B,) float32. discount = gamma ** n_step, the
    bootstrap's discount.

    1. The targets `double_dqn_targets(rewards, Q_online(s'), Q_target(s'), terminated,
       discount)` are constants: no gradient flows into them (`tf.stop_gradient`).
    2. Under a `tf.GradientTape`: Q_online(s, a) of the actions taken (one value per row, e.g.
       `tf.gather(..., actions, axis=-1, batch_dims=1)`) and `loss_fn(targets, q_taken)`.
    3. The gradient of that loss with respect to `q_network.trainable_variables`, applied with
       `optimizer.apply_gradients`. The target network is only read.
    """
    raise NotImplementedError("Double DQN targets, the loss on Q(s, a), one optimizer step")


def make_train_step(q_network, target_network, optimizer, config):
    """The compiled training step: `train_step(obs, actions, rewards, next_obs, terminated)` with
    every argument stacked as (gradient_steps, batch, ...) runs `gradient_step` once per
    minibatch and returns the mean loss (a scalar tensor). The rewards are n-step returns, so the
    targets bootstrap with gamma ** n_step."""
    import keras
    import tensorflow as tf

    huber = keras.losses.Huber(delta=config.huber_delta)
    discount = config.gamma**config.n_step

    @tf.function(jit_compile=config.jit_compile)
    def train_step(obs, actions, rewards, next_obs, terminated):
        # obs, next_obs (G, B, obs_dim); actions (G, B) int64; rewards, terminated (G, B)
        total = tf.constant(0.0)
        for g in tf.range(tf.shape(obs)[0]):
            batch = Batch(obs[g], actions[g], rewards[g], next_obs[g], terminated[g])
            total += gradient_step(q_network, target_network, optimizer, huber, discount, batch)
        return total / tf.cast(tf.shape(obs)[0], tf.float32)

    return train_step


def make_optimizer(config):
    """Adam with clipped gradients; its learning rate decays linearly from `learning_rate` to
    `final_learning_rate` over the optimizer steps of `learning_rate_decay_steps` environment
    steps, then stays there."""
    import keras

    decay = config.learning_rate_decay_steps - config.learning_starts
    updates = max(1, decay // config.train_every)
    learning_rate = keras.optimizers.schedules.PolynomialDecay(
        config.learning_rate, updates * config.gradient_steps, config.final_learning_rate
    )
    return keras.optimizers.Adam(learning_rate, clipnorm=config.clipnorm)


def make_update_target(q_network, target_network, tau=1.0):
    """The compiled target update: every target weight moves to tau * online + (1 - tau) * target
    (tau = 1: a hard copy)."""
    import tensorflow as tf

    @tf.function
    def update_target():
        raise NotImplementedError("move each target weight towards its online weight by tau")

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
        transitions as arrays (obs, actions, rewards, next_obs, terminated), one row each, or
        None when this step completes none."""
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


def store_transitions(
    buffer, collector, autoreset, obs, actions, rewards, next_obs, terminated, truncated
):
    """Pass one vector step to the n-step `collector`, and what it completes to the `buffer`.

    Every array has one row per environment, as `envs.step` returned them (obs is the
    observation the actions were taken in). `autoreset[i]` is True where environment i's
    episode ended at the previous step: this step only reset it (autoreset mode NEXT_STEP), so
    its row is no transition of the MDP. Call `collector.add(obs, actions, rewards, next_obs,
    terminated, truncated, real)` with `real` True for the other rows, and `terminated` and
    `truncated` as they came (never merged); when it returns transitions (not None), add them
    to the replay buffer with `buffer.add(*transitions)`.
    """
    raise NotImplementedError("pass on the real steps only, with terminated and truncated apart")


def train(config=None, progress=True):
    """Train a DQN agent as `config` says and return a `TrainResult`."""
    import gymnasium as gym

    config = config or Config()
    common.configure_threads(config.threads)

    # ---- seeding: every source of randomness ----
    rng = common.seed_everything(config.seed)  # python, numpy, TF; rng: replay samples, exploration
    envs = gym.vector.SyncVectorEnv(  # autoreset mode NEXT_STEP, gymnasium's default
        [lambda: gym.make(config.env_id)] * config.num_envs
    )
    obs, _ = envs.reset(seed=common.training_seeds(config.seed, config.num_envs))
    envs.action_space.seed(config.seed)

    # ---- networks, optimizer, replay buffer ----
    obs_dim, n_actions = envs.single_observation_space.shape[0], int(envs.single_action_space.n)
    q_network = build_q_network(obs_dim, n_actions, config.hidden)
    target_network = build_q_network(obs_dim, n_actions, config.hidden)
    target_network.set_weights(q_network.get_weights())
    optimizer = make_optimizer(config)
    optimizer.build(q_network.trainable_variables)  # its slots exist before the step is traced
    train_step = common.traced_once(make_train_step(q_network, target_network, optimizer, config))
    update_target = make_update_target(q_network, target_network, config.tau)
    policy = GreedyPolicy(q_network)
    buffer = ReplayBuffer(config.buffer_size, (obs_dim,))
    collector = NStepTransitions(config.num_envs, config.n_step, config.gamma)

    # ---- the loop ----
    result, n = TrainResult(policy), config.num_envs
    bar = common.ProgressBar(config.total_steps, progress, "DQN " + config.env_id)
    evaluation = common.InTrainingEvaluation(config, policy, q_network, bar)
    episode_return = np.zeros(n)
    autoreset = np.zeros(n, dtype=bool)  # True: this env's next step() is a reset, not a move
    step, next_train, optimizer_steps, target_updated = 0, config.learning_starts, 0, 0
    while step < config.total_steps:
        epsilon = linear_epsilon(
            step, config.epsilon_start, config.epsilon_end, config.exploration_steps
        )
        actions = envs.action_space.sample()  # (n,) random actions
        explore = rng.random(n) < epsilon
        if not explore.all():
            actions = np.where(explore, actions, policy(obs))
        next_obs, rewards, terminated, truncated, _ = envs.step(actions)
        store_transitions(
            buffer, collector, autoreset, obs, actions, rewards, next_obs, terminated, truncated
        )
        step += n
        episode_return += np.where(autoreset, 0.0, rewards)
        autoreset, obs = terminated | truncated, next_obs
        result.curve += [(step, float(episode_return[i])) for i in np.flatnonzero(autoreset)]
        episode_return[autoreset] = 0.0

        if step >= next_train:
            next_train = step + config.train_every
            shape = (config.gradient_steps, config.batch_size)  # one minibatch per step
            batch = buffer.sample(shape[0] * shape[1], rng)
            result.losses.append(
                float(train_step(*(x.reshape(shape + x.shape[1:]) for x in batch)))
            )
            optimizer_steps += config.gradient_steps
            if optimizer_steps - target_updated >= config.target_update_every:
                update_target()
                target_updated = optimizer_steps

        bar.update(n, result.curve, epsilon=epsilon)
        if evaluation.due(step, last=step >= config.total_steps) and evaluation(step, result):
            break
    evaluation.restore_best()  # the weights of the best in-training evaluation
    envs.close()
    return bar.close(result, step)
