"""Question 19, part 4: a PPO agent that lands the continuous Lunar Lander.

`LunarLanderContinuous-v3` takes a 2-D action in [-1, 1] (main and lateral engine). No argmax
over infinitely many actions exists, so instead of a Q-network this agent learns a *policy*: a
diagonal Gaussian whose mean comes from an MLP and whose log standard deviation is a learned
vector (the same in every state). For the discrete `LunarLander-v3` the same agent uses a
categorical policy over the four actions. A second MLP, the critic, estimates the state value
V(s) for generalized advantage estimation (GAE). Both live in `PPOPolicy`, a Keras model that
also holds the observation statistics, so that `policy.save("ppo.keras")` keeps everything.

One iteration of PPO:

1. Roll out the current policy for `rollout_steps` steps in each of `num_envs` environments,
   recording observations, actions, their log-probabilities, values, rewards and the two episode
   flags.
2. Compute advantages and returns with `blocks.gae`. Gymnasium's vector environments run here in
   autoreset mode SAME_STEP: the step that ends an episode already returns the first observation
   of the next one, and the true last observation is in `info["final_obs"]`. A truncated episode
   (the 1000-step limit) bootstraps from V(final observation); a terminated one does not.
3. Several epochs of minibatch steps on the clipped objective (`blocks.ppo_clip_objective`),
   plus a value loss and an entropy bonus, all in one compiled call.

Observations are normalised by a running mean and variance (updated after each iteration and
stored in the policy, so evaluation sees the same inputs); rewards are divided by a running
standard deviation of the discounted return, which keeps the value loss near 1.

What you implement (the fenced functions): `act` (inside `make_act`), the action sampling with
its log-probability; `final_values`, the values of the true final observations of truncated
episodes; `advantages_and_returns`, the next values and GAE of a rollout; `ppo_loss`.

Given (read them): many small minibatches (128) per rollout; the learning rate decays linearly
over the budget; in-training evaluations on their own seeds may stop the run early, and the best
evaluated policy is kept.

Run it: ``python -m solutions.q19_lunar_lander train --algo ppo``. (Unlike the other files,
this one imports Keras when it loads: a Keras model class needs it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from . import common
from .blocks import gae, gaussian_log_prob, ppo_clip_objective
from .common import Evaluation, TrainResult, evaluate

__all__ = [
    "Config",
    "Evaluation",
    "PPOPolicy",
    "RunningMeanStd",
    "TrainResult",
    "evaluate",
    "train",
]


@dataclass
class Config(common.RunConfig):
    """The hyperparameters of a PPO run (defaults tuned for LunarLanderContinuous-v3, 2 cores).

    Every run's settings (env_id, seed, total_steps, num_envs, evaluation, threads, jit_compile)
    are described in `common.RunConfig`; this agent's defaults for them come first."""

    env_id: str = "LunarLanderContinuous-v3"  # a Box or a Discrete action space
    total_steps: int = 1_000_000
    num_envs: int = 16
    evaluation: Evaluation | None = Evaluation(every=50_000, start=100_000)
    jit_compile: bool = False  # XLA pays off only for long runs
    rollout_steps: int = 256
    """steps per environment in one rollout (a rollout is num_envs * rollout_steps transitions)"""
    hidden: tuple[int, ...] = (64, 64)
    """widths of the hidden tanh layers of the actor and of the critic"""
    learning_rate: float = 3e-4
    """Adam learning rate at the start (annealed linearly to 0 when anneal_lr)"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the run"""
    gamma: float = 0.999
    """discount factor (close to 1: the landing bonus comes hundreds of steps after the start)"""
    gae_lambda: float = 0.98
    """the GAE lambda (0: one-step TD, 1: Monte Carlo)"""
    epochs: int = 10
    """passes over each rollout"""
    minibatch_size: int = 128
    """transitions per optimizer step"""
    clip_eps: float = 0.2
    """the PPO clip range of the probability ratio"""
    value_coef: float = 0.5
    """weight of the value loss"""
    entropy_coef: float = 0.01
    """weight of the entropy bonus"""
    max_grad_norm: float = 0.5
    """gradients are clipped to this global norm"""
    init_log_std: float = 0.0
    """initial log standard deviation of the Gaussian policy"""
    normalize_obs: bool = True
    """normalise observations by a running mean and variance"""
    normalize_rewards: bool = True
    """divide rewards by a running standard deviation of the discounted return"""


class RunningMeanStd:
    """A running mean and variance of a stream of arrays (parallel Welford update)."""

    def __init__(self, shape=()):
        self.mean = np.zeros(shape)
        self.var = np.ones(shape)
        self.count = 1e-4

    def update(self, x):
        """Fold a batch x (n, *shape) into the statistics."""
        x = np.asarray(x, dtype=np.float64)
        batch_mean, batch_var, n = x.mean(axis=0), x.var(axis=0), len(x)
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var = m2 / total
        self.count = total


class RewardScaler:
    """Divides rewards by a running standard deviation of the discounted return of each env."""

    def __init__(self, num_envs, gamma, enabled=True):
        self.rms, self.returns = RunningMeanStd(), np.zeros(num_envs)
        self.gamma, self.enabled = gamma, enabled

    def __call__(self, rewards, ended):
        if not self.enabled:
            return rewards
        self.returns = self.returns * self.gamma + rewards
        self.rms.update(self.returns)
        self.returns[ended] = 0.0
        return rewards / np.sqrt(self.rms.var + 1e-8)


def build_mlp(in_dim, out_dim, hidden, out_scale):
    """An MLP with tanh hidden layers and orthogonal initialisation; the output layer starts
    small (`out_scale`) so that the first policy is nearly uniform and the first values near 0."""
    init = keras.initializers.Orthogonal
    layers = [keras.Input((in_dim,))]
    layers += [
        keras.layers.Dense(w, activation="tanh", kernel_initializer=init(np.sqrt(2)))
        for w in hidden
    ]
    layers += [keras.layers.Dense(out_dim, kernel_initializer=init(out_scale))]
    return keras.Sequential(layers)


@keras.saving.register_keras_serializable(package="q19_lunar_lander")
class PPOPolicy(keras.Model):
    """The actor, the critic, the Gaussian log std and the observation statistics, together.

    Every method takes *raw* observations (n, obs_dim) and normalises them itself with the
    statistics it holds (`obs_mean`, `obs_var`, non-trainable weights set by
    `set_obs_statistics`). `policy(obs)` is the deterministic action: the Gaussian mean clipped
    to [low, high], or the most likely discrete action (int64).
    """

    def __init__(
        self,
        obs_dim,
        action_dim,
        continuous=True,
        hidden=(64, 64),
        init_log_std=0.0,
        low=-1.0,
        high=1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.obs_dim, self.action_dim = int(obs_dim), int(action_dim)
        self.continuous, self.hidden, self.init_log_std = (
            bool(continuous),
            tuple(hidden),
            init_log_std,
        )
        self.low = np.broadcast_to(np.asarray(low, np.float32), (self.action_dim,)).copy()
        self.high = np.broadcast_to(np.asarray(high, np.float32), (self.action_dim,)).copy()
        self.actor = build_mlp(obs_dim, action_dim, hidden, out_scale=0.01)
        self.critic = build_mlp(obs_dim, 1, hidden, out_scale=1.0)
        self.log_std = self.add_weight(
            shape=(action_dim,),
            initializer=keras.initializers.Constant(init_log_std),
            trainable=self.continuous,
            name="log_std",
        )
        self.obs_mean = self.add_weight(
            shape=(obs_dim,), initializer="zeros", trainable=False, name="obs_mean"
        )
        self.obs_var = self.add_weight(
            shape=(obs_dim,), initializer="ones", trainable=False, name="obs_var"
        )
        self.built = True

    @classmethod
    def for_space(cls, obs_dim, action_space, hidden=(64, 64), init_log_std=0.0):
        """A policy for a gymnasium action space (Box: Gaussian, Discrete: categorical)."""
        if hasattr(action_space, "n"):
            return cls(obs_dim, int(action_space.n), False, hidden, init_log_std)
        return cls(
            obs_dim,
            action_space.shape[0],
            True,
            hidden,
            init_log_std,
            action_space.low.tolist(),
            action_space.high.tolist(),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "continuous": self.continuous,
            "hidden": list(self.hidden),
            "init_log_std": self.init_log_std,
            "low": self.low.tolist(),
            "high": self.high.tolist(),
        }

    def set_obs_statistics(self, mean, var):
        """Use this mean and variance (obs_dim,) to normalise observations from now on."""
        self.obs_mean.assign(np.asarray(mean, np.float32))
        self.obs_var.assign(np.asarray(var, np.float32))

    def normalize(self, obs):
        """Raw observations (n, obs_dim) -> standardised and clipped to [-10, 10], float32."""
        obs = tf.cast(obs, tf.float32)
        return tf.clip_by_value(
            (obs - self.obs_mean) * tf.math.rsqrt(self.obs_var + 1e-8), -10.0, 10.0
        )

    def mean_or_logits(self, obs):
        """The actor's output (n, action_dim): the Gaussian's mean, or the categorical logits."""
        return self.actor(self.normalize(obs))

    def value(self, obs):
        """The critic's estimate V(s), shape (n,)."""
        return self.critic(self.normalize(obs))[:, 0]

    def log_prob_entropy(self, obs, actions):
        """log pi(a|s) (n,) and the mean entropy of the policy, with TensorFlow ops."""
        out = self.mean_or_logits(obs)
        if self.continuous:
            log_prob = gaussian_log_prob(actions, out, self.log_std)
            entropy = tf.reduce_sum(self.log_std) + float(
                0.5 * self.action_dim * np.log(2 * np.pi * np.e)
            )
        else:
            log_p = tf.nn.log_softmax(out)  # (n, n_actions)
            log_prob = tf.gather(log_p, actions, axis=-1, batch_dims=1)
            entropy = -tf.reduce_mean(tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1))
        return log_prob, entropy

    def env_actions(self, actions):
        """Actions as the environment takes them: a Gaussian's sample may leave the box, so it
        is clipped to [low, high]; discrete actions pass unchanged."""
        return np.clip(actions, self.low, self.high) if self.continuous else actions

    def call(self, obs):
        out = self.mean_or_logits(obs)
        if self.continuous:
            return tf.clip_by_value(out, self.low, self.high)
        return tf.argmax(out, axis=-1, output_type=tf.int64)


def make_act(policy):
    """The compiled action sampler: `act(obs, noise)` with raw obs (n, obs_dim) and noise
    (n, action_dim) (standard normal for a Gaussian, Gumbel for a categorical policy) returns
    (actions, log_probs (n,), values (n,)).

    A Gaussian policy's action is mean + exp(log_std) * noise, with the mean from
    `policy.mean_or_logits(obs)` and the log-probability from `gaussian_log_prob`. A categorical
    one takes the argmax of logits + Gumbel noise (a sample of the categorical, int64) and the
    log-softmax of the logits at that action. The values come from `policy.value(obs)`.
    """

    @tf.function(reduce_retracing=True)
    def act(obs, noise):
        raise NotImplementedError("sample an action with the noise, its log-probability, V(s)")

    return act


def ppo_loss(policy, obs, actions, old_log_probs, advantages, returns, config):
    """The loss of one PPO minibatch, to be minimised (a scalar tensor; TensorFlow ops).

    obs (B, obs_dim) raw; actions as `act` sampled them; old_log_probs (B,) recorded then;
    advantages (B,) already normalised; returns (B,) the critic's regression targets.

        loss = -ppo_clip_objective(new log-probs, old_log_probs, advantages, clip_eps)
               + value_coef * 0.5 * mean((V(s) - returns)^2)
               - entropy_coef * entropy

    with the new log-probabilities and the entropy from `policy.log_prob_entropy` and V(s) from
    `policy.value`. The entropy bonus keeps the policy from becoming deterministic too soon.
    """
    raise NotImplementedError("minus the clipped objective, plus value loss, minus entropy")


def make_update(policy, optimizer, config):
    """The compiled PPO update: `update(obs, actions, old_log_probs, advantages, returns, index)`
    with the rollout flattened to (N, ...) and `index` (n_minibatches, minibatch_size) rows of a
    shuffle per epoch runs one optimizer step on `ppo_loss` per row (advantages normalised per
    minibatch) and returns the mean loss."""

    @tf.function(jit_compile=config.jit_compile)
    def update(obs, actions, old_log_probs, advantages, returns, index):
        total = tf.constant(0.0)
        for i in tf.range(tf.shape(index)[0]):
            mb = index[i]  # (minibatch_size,)
            mb_adv = tf.gather(advantages, mb)
            mb_adv = (mb_adv - tf.reduce_mean(mb_adv)) / (tf.math.reduce_std(mb_adv) + 1e-8)
            with tf.GradientTape() as tape:
                loss = ppo_loss(
                    policy,
                    tf.gather(obs, mb),
                    tf.gather(actions, mb),
                    tf.gather(old_log_probs, mb),
                    mb_adv,
                    tf.gather(returns, mb),
                    config,
                )
            grads = tape.gradient(loss, policy.trainable_variables)
            optimizer.apply_gradients(zip(grads, policy.trainable_variables, strict=True))
            total += loss
        return total / tf.cast(tf.shape(index)[0], tf.float32)

    return update


@dataclass
class Rollout:
    """What one rollout recorded, every array (rollout_steps, num_envs, ...)."""

    obs: np.ndarray  # (T, n, obs_dim) raw observations the actions were taken in
    actions: np.ndarray  # (T, n, action_dim) float32, or (T, n) int64
    log_probs: np.ndarray  # (T, n) log pi_old(a|s)
    values: np.ndarray  # (T, n) V(s_t)
    rewards: np.ndarray  # (T, n) scaled rewards
    terminated: np.ndarray  # (T, n) 1.0 where the MDP ended at step t
    ended: np.ndarray  # (T, n) 1.0 where the episode ended (terminated or truncated)
    final_values: np.ndarray  # (T, n) V(true final obs) where truncated at step t, else 0

    @classmethod
    def empty(cls, steps, num_envs, obs_dim, action_space):
        """Zeros for a rollout of `steps` steps in `num_envs` environments."""
        continuous = not hasattr(action_space, "n")
        action_shape = (steps, num_envs, *(action_space.shape if continuous else ()))
        zeros = lambda: np.zeros((steps, num_envs), np.float32)
        return cls(
            np.zeros((steps, num_envs, obs_dim), np.float32),
            np.zeros(action_shape, np.float32 if continuous else np.int64),
            zeros(),
            zeros(),
            zeros(),
            zeros(),
            zeros(),
            zeros(),
        )

    def record(self, t, obs, actions, log_probs, values, terminated, ended):
        """Store step t of every environment (the rewards and final values are set apart)."""
        self.obs[t], self.actions[t], self.log_probs[t] = obs, actions, log_probs
        self.values[t], self.terminated[t], self.ended[t] = values, terminated, ended

    def flat(self, advantages, returns):
        """The arrays `update` takes, (T * n, ...)."""
        n = self.rewards.size
        return (
            self.obs.reshape(n, -1),
            self.actions.reshape(n, *self.actions.shape[2:]),
            self.log_probs.reshape(n),
            advantages.reshape(n).astype(np.float32),
            returns.reshape(n).astype(np.float32),
        )


def final_values(policy, truncated, info):
    """V(true final observation) where an episode was truncated at this step, 0 elsewhere.

    truncated (n,) bool; info is what `envs.step` returned in SAME_STEP autoreset mode: where an
    episode ended, `info["final_obs"][i]` holds its true last observation (the observation
    returned is already the next episode's first). Returns a float32 array (n,), with
    `policy.value` of the final observations of the truncated environments in their rows.
    """
    raise NotImplementedError("V(final observation) where truncated, 0 elsewhere")


def advantages_and_returns(rollout, last_values, gamma, lam):
    """GAE advantages and returns (T, n) of a `Rollout`, by `gae`.

    The next value of step t is V(s_{t+1}), the value recorded at step t + 1 (`last_values`
    (n,), the values of the observations after the rollout, for t = T - 1), except where an
    episode ended at step t: there the next step belongs to a new episode, and the next value is
    `rollout.final_values[t]` (V of the true final observation if truncated; with terminated set,
    `gae` does not bootstrap anyway).
    """
    raise NotImplementedError("next values (final_values at episode ends), then GAE")


def shuffled_minibatches(rng, size, minibatch_size, epochs):
    """Row indices (epochs * n_minibatches, minibatch_size): one fresh shuffle per epoch."""
    n_minibatches = max(1, size // minibatch_size)
    return np.concatenate(
        [
            rng.permutation(size)[: n_minibatches * minibatch_size].reshape(
                n_minibatches, minibatch_size
            )
            for _ in range(epochs)
        ]
    )


def action_noise(rng, policy, n):
    """The noise `act` turns into actions, (n, action_dim) float32: standard normal for a
    Gaussian policy, Gumbel for a categorical one."""
    if policy.continuous:
        return rng.standard_normal((n, policy.action_dim)).astype(np.float32)
    return rng.gumbel(size=(n, policy.action_dim)).astype(np.float32)


def make_optimizer(config, iterations):
    """Adam with the clipped global gradient norm; when `config.anneal_lr` its learning rate
    decays linearly to 0 over the optimizer steps of `iterations` iterations."""
    learning_rate = config.learning_rate
    if config.anneal_lr:
        batch = config.num_envs * config.rollout_steps
        updates = iterations * config.epochs * max(1, batch // config.minibatch_size)
        learning_rate = keras.optimizers.schedules.PolynomialDecay(learning_rate, updates, 0.0)
    return keras.optimizers.Adam(learning_rate, global_clipnorm=config.max_grad_norm, epsilon=1e-5)


def train(config=None, progress=True):
    """Train a PPO agent as `config` says and return a `TrainResult`."""
    import gymnasium as gym

    config = config or Config()
    common.configure_threads(config.threads)

    # ---- seeding: every source of randomness ----
    rng = common.seed_everything(config.seed)  # python, numpy, TF; rng: action noise, shuffles
    envs = gym.vector.SyncVectorEnv(  # SAME_STEP: the ended episode's last obs is in the info
        [lambda: gym.make(config.env_id)] * config.num_envs,
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    obs, _ = envs.reset(seed=common.training_seeds(config.seed, config.num_envs))
    envs.action_space.seed(config.seed)

    # ---- policy, optimizer, rollout storage ----
    n, T, obs_dim = config.num_envs, config.rollout_steps, envs.single_observation_space.shape[0]
    space = envs.single_action_space
    policy = PPOPolicy.for_space(obs_dim, space, config.hidden, config.init_log_std)
    iterations = max(1, config.total_steps // (n * T))
    optimizer = make_optimizer(config, iterations)
    optimizer.build(policy.trainable_variables)  # its slots exist before `update` is traced
    act, update = make_act(policy), make_update(policy, optimizer, config)
    rollout = Rollout.empty(T, n, obs_dim, space)
    obs_rms = RunningMeanStd((obs_dim,))
    scale_rewards = RewardScaler(n, config.gamma, config.normalize_rewards)

    # ---- the loop ----
    result, episode_return, step = TrainResult(policy), np.zeros(n), 0
    bar = common.ProgressBar(iterations * n * T, progress, "PPO " + config.env_id)
    evaluation = common.InTrainingEvaluation(config, policy, policy, bar)
    for iteration in range(iterations):
        for t in range(T):
            noise = action_noise(rng, policy, n)
            actions, log_probs, values = (x.numpy() for x in act(obs.astype(np.float32), noise))
            next_obs, rewards, terminated, truncated, info = envs.step(policy.env_actions(actions))
            ended = terminated | truncated
            rollout.record(t, obs, actions, log_probs, values, terminated, ended)
            rollout.final_values[t] = final_values(policy, truncated, info)
            rollout.rewards[t] = scale_rewards(rewards, ended)
            step, obs, episode_return = step + n, next_obs, episode_return + rewards
            result.curve += [(step, float(episode_return[i])) for i in np.flatnonzero(ended)]
            episode_return[ended] = 0.0
            bar.update(n, result.curve)

        last_values = policy.value(obs.astype(np.float32)).numpy()  # V of the obs after T
        advantages, returns = advantages_and_returns(
            rollout, last_values, config.gamma, config.gae_lambda
        )
        index = shuffled_minibatches(rng, n * T, config.minibatch_size, config.epochs)
        result.losses.append(float(update(*rollout.flat(advantages, returns), index)))
        if config.normalize_obs:  # the statistics of all observations so far, from now on
            obs_rms.update(rollout.obs.reshape(n * T, obs_dim))
            policy.set_obs_statistics(obs_rms.mean, obs_rms.var)
        if evaluation.due(step, last=iteration == iterations - 1) and evaluation(step, result):
            break
    evaluation.restore_best()  # the policy of the best in-training evaluation
    envs.close()
    return bar.close(result, step)
