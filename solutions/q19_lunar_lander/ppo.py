"""Question 19, part 4: a PPO agent that lands the continuous Lunar Lander.

`LunarLanderContinuous-v3` takes a 2-D action in [-1, 1] (main and lateral engine). No argmax
over infinitely many actions exists, so instead of a Q-network this agent learns a *policy*: a
diagonal Gaussian whose mean comes from an MLP and whose log standard deviation is a learned
vector (the same in every state). For the discrete `LunarLander-v3` the same agent uses a
categorical policy over the four actions. A second MLP, the critic, estimates the state value
V(s) for generalized advantage estimation (GAE).

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

What you implement (the fenced regions): the action sampling with its log-probability, the true
next values for GAE at episode ends, and the PPO loss.

Given (read them): many small minibatches (128) per rollout learn much faster here than a few
large ones; the learning rate decays linearly over the budget; in-training evaluations on their
own seeds may stop the run early, and the best evaluated policy is kept.

Run it: ``python -m solutions.q19_lunar_lander train --algo ppo``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .blocks import gae, gaussian_log_prob, ppo_clip_objective
from .dqn import EVAL_SEED_OFFSET, ProgressBar, configure_threads, evaluate

__all__ = ["Config", "TrainResult", "PPOPolicy", "train", "evaluate", "RunningMeanStd"]


@dataclass
class Config:
    """The hyperparameters of a PPO run (defaults tuned for LunarLanderContinuous-v3, 2 cores)."""

    env_id: str = "LunarLanderContinuous-v3"
    """the gymnasium environment id (a Box or a Discrete action space)"""
    seed: int = 1
    """seed of python, numpy, TensorFlow and the environments"""
    total_steps: int = 1_000_000
    """the training budget in environment steps, summed over the vector environments"""
    num_envs: int = 16
    """number of environments stepped together"""
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
    eval_every: int = 50_000
    """environment steps between in-training evaluations (0: none)"""
    eval_start: int = 100_000
    """no in-training evaluation before this many environment steps"""
    eval_episodes: int = 30
    """deterministic episodes per in-training evaluation"""
    stop_return: float | None = 220.0
    """stop training once an in-training evaluation reaches this mean return (None: never)"""
    restore_best: bool = True
    """at the end, go back to the policy of the best in-training evaluation"""
    threads: int = 1
    """TensorFlow intra- and inter-op threads (1 is fastest for networks this small)"""


@dataclass
class TrainResult:
    """What `train` returns."""

    policy: PPOPolicy
    """the trained policy; calling it gives the deterministic (mean or most likely) action"""
    curve: list[tuple[int, float]] = field(default_factory=list)
    """the learning curve: (environment step at the episode's end, episode return)"""
    steps: int = 0
    """environment steps actually taken (less than total_steps if training stopped early)"""
    seconds: float = 0.0
    """wall-clock seconds of training, in-training evaluations included"""
    losses: list[float] = field(default_factory=list)
    """the mean total loss of each update"""
    evaluations: list[tuple[int, float]] = field(default_factory=list)
    """in-training evaluations: (environment step, mean deterministic return)"""


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


def build_mlp(in_dim, out_dim, hidden, out_scale):
    """An MLP with tanh hidden layers and orthogonal initialisation; the output layer starts
    small (`out_scale`) so that the first policy is nearly uniform and the first values near 0."""
    import keras

    init = keras.initializers.Orthogonal
    layers = [keras.Input((in_dim,))]
    layers += [keras.layers.Dense(w, activation="tanh", kernel_initializer=init(np.sqrt(2)))
               for w in hidden]
    layers += [keras.layers.Dense(out_dim, kernel_initializer=init(out_scale))]
    return keras.Sequential(layers)


class PPOPolicy:
    """The actor, the critic, the Gaussian log std and the observation statistics, together.

    `policy(obs)` maps raw observations (n, obs_dim) to deterministic actions: the Gaussian mean
    clipped to the action bounds, or the most likely discrete action.
    """

    def __init__(self, obs_dim, action_space, hidden, init_log_std=0.0):
        import keras
        import tensorflow as tf

        self.continuous = not hasattr(action_space, "n")
        self.obs_dim = obs_dim
        self.action_dim = action_space.shape[0] if self.continuous else int(action_space.n)
        self.low = action_space.low if self.continuous else None
        self.high = action_space.high if self.continuous else None
        self.actor = build_mlp(obs_dim, self.action_dim, hidden, out_scale=0.01)
        self.critic = build_mlp(obs_dim, 1, hidden, out_scale=1.0)
        self.log_std = keras.Variable(np.full(self.action_dim, init_log_std, np.float32),
                                      name="log_std")
        self.obs_rms = RunningMeanStd((obs_dim,))
        self.normalize_obs = True
        self.trainable_variables = (self.actor.trainable_variables
                                    + self.critic.trainable_variables
                                    + ([self.log_std] if self.continuous else []))

        @tf.function(reduce_retracing=True)
        def deterministic(obs):
            """(n, obs_dim) normalised -> the mean action (n, action_dim) or the argmax (n,)."""
            out = self.actor(obs)
            if self.continuous:
                return tf.clip_by_value(out, self.low, self.high)
            return tf.argmax(out, axis=-1, output_type=tf.int64)

        @tf.function(reduce_retracing=True)
        def value(obs):
            """(n, obs_dim) normalised -> V(s) (n,)."""
            return self.critic(obs)[:, 0]

        self.deterministic = deterministic
        self.value = value

    def normalize(self, obs):
        """Raw observations (n, obs_dim) -> the float32 inputs of the networks."""
        obs = np.asarray(obs, dtype=np.float64)
        if self.normalize_obs:
            obs = np.clip((obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + 1e-8), -10, 10)
        return obs.astype(np.float32)

    def log_prob_entropy(self, obs, actions):
        """log pi(a|s) (n,) and the mean entropy of the policy, with TensorFlow ops."""
        import tensorflow as tf

        out = self.actor(obs)
        if self.continuous:
            log_prob = gaussian_log_prob(actions, out, self.log_std)
            entropy = tf.reduce_sum(self.log_std) + float(
                0.5 * self.action_dim * np.log(2 * np.pi * np.e))
        else:
            log_p = tf.nn.log_softmax(out)  # (n, n_actions)
            log_prob = tf.gather(log_p, actions, axis=-1, batch_dims=1)
            entropy = -tf.reduce_mean(tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1))
        return log_prob, entropy

    def __call__(self, obs):
        return self.deterministic(self.normalize(obs)).numpy()

    def snapshot(self):
        """A copy of everything that defines the policy (for `restore`)."""
        return (self.actor.get_weights(), self.critic.get_weights(), self.log_std.numpy(),
                self.obs_rms.mean.copy(), self.obs_rms.var.copy())

    def restore(self, snapshot):
        """Go back to a `snapshot()`."""
        actor, critic, log_std, mean, var = snapshot
        self.actor.set_weights(actor)
        self.critic.set_weights(critic)
        self.log_std.assign(log_std)
        self.obs_rms.mean, self.obs_rms.var = mean.copy(), var.copy()

    def save(self, directory):
        """Write the weights and the observation statistics into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.actor.save_weights(directory / "ppo_actor.weights.h5")
        self.critic.save_weights(directory / "ppo_critic.weights.h5")
        np.savez(directory / "ppo_extra.npz", log_std=self.log_std.numpy(),
                 obs_mean=self.obs_rms.mean, obs_var=self.obs_rms.var,
                 normalize_obs=self.normalize_obs)

    def load(self, directory):
        """Read what `save` wrote (into a policy built with the same sizes)."""
        directory = Path(directory)
        self.actor.load_weights(directory / "ppo_actor.weights.h5")
        self.critic.load_weights(directory / "ppo_critic.weights.h5")
        extra = np.load(directory / "ppo_extra.npz")
        self.log_std.assign(extra["log_std"])
        self.obs_rms.mean, self.obs_rms.var = extra["obs_mean"], extra["obs_var"]
        self.normalize_obs = bool(extra["normalize_obs"])
        return self


def make_act(policy):
    """The compiled action sampler: `act(obs, noise)` with normalised obs (n, obs_dim) and noise
    (n, action_dim) (standard normal for a Gaussian, Gumbel for a categorical policy) returns
    (actions, log_probs (n,), values (n,))."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def act(obs, noise):
        # BEGIN SOLUTION: sample an action with the given noise, its log-probability and V(s)
        out = policy.actor(obs)
        if policy.continuous:
            actions = out + tf.exp(policy.log_std) * noise  # (n, action_dim)
            log_probs = gaussian_log_prob(actions, out, policy.log_std)
        else:  # Gumbel-max: argmax(logits + Gumbel noise) samples the categorical
            actions = tf.argmax(out + noise, axis=-1, output_type=tf.int64)  # (n,)
            log_probs = tf.gather(tf.nn.log_softmax(out), actions, axis=-1, batch_dims=1)
        values = policy.critic(obs)[:, 0]
        return actions, log_probs, values
        # END SOLUTION

    return act


def make_update(policy, optimizer, config):
    """The compiled PPO update: `update(obs, actions, old_log_probs, advantages, returns, index)`
    with the rollout flattened to (N, ...) and `index` (n_minibatches, minibatch_size) rows of a
    shuffle per epoch runs one optimizer step per row and returns the mean loss."""
    import tensorflow as tf

    @tf.function
    def update(obs, actions, old_log_probs, advantages, returns, index):
        total = tf.constant(0.0)
        for i in tf.range(tf.shape(index)[0]):
            mb = index[i]  # (minibatch_size,)
            mb_obs, mb_actions = tf.gather(obs, mb), tf.gather(actions, mb)
            mb_adv = tf.gather(advantages, mb)
            mb_adv = (mb_adv - tf.reduce_mean(mb_adv)) / (tf.math.reduce_std(mb_adv) + 1e-8)
            with tf.GradientTape() as tape:
                # BEGIN SOLUTION: minus the clipped objective, plus the value loss, minus entropy
                log_probs, entropy = policy.log_prob_entropy(mb_obs, mb_actions)
                objective = ppo_clip_objective(log_probs, tf.gather(old_log_probs, mb), mb_adv,
                                               config.clip_eps)
                values = policy.critic(mb_obs)[:, 0]
                value_loss = 0.5 * tf.reduce_mean(tf.square(values - tf.gather(returns, mb)))
                loss = -objective + config.value_coef * value_loss - config.entropy_coef * entropy
                # END SOLUTION
            grads = tape.gradient(loss, policy.trainable_variables)
            optimizer.apply_gradients(zip(grads, policy.trainable_variables, strict=True))
            total += loss
        return total / tf.cast(tf.shape(index)[0], tf.float32)

    return update


def training_seeds(config):
    """The reset seeds of the training environments: seed, seed + 1, ... (one per environment)."""
    return [config.seed + i for i in range(config.num_envs)]


def train(config=None, progress=True):
    """Train a PPO agent as `config` says and return a `TrainResult`."""
    import gymnasium as gym
    import keras

    config = config or Config()
    assert config.seed + config.num_envs < EVAL_SEED_OFFSET // 2, "training seeds must stay small"
    configure_threads(config.threads)

    # ---- seeding: every source of randomness ----
    random.seed(config.seed)
    np.random.seed(config.seed)
    keras.utils.set_random_seed(config.seed)  # python, numpy and TensorFlow
    rng = np.random.default_rng(config.seed)  # action noise and minibatch shuffles
    envs = gym.vector.SyncVectorEnv(  # SAME_STEP: the ended episode's last obs is in the info
        [lambda: gym.make(config.env_id)] * config.num_envs,
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs, _ = envs.reset(seed=training_seeds(config))
    envs.action_space.seed(config.seed)

    # ---- policy, optimizer ----
    obs_dim = envs.single_observation_space.shape[0]
    policy = PPOPolicy(obs_dim, envs.single_action_space, config.hidden, config.init_log_std)
    policy.normalize_obs = config.normalize_obs
    n, T = config.num_envs, config.rollout_steps
    iterations = max(1, config.total_steps // (n * T))
    n_minibatches = max(1, n * T // config.minibatch_size)
    learning_rate = config.learning_rate
    if config.anneal_lr:
        learning_rate = keras.optimizers.schedules.PolynomialDecay(
            config.learning_rate, iterations * config.epochs * n_minibatches, 0.0)
    optimizer = keras.optimizers.Adam(learning_rate, global_clipnorm=config.max_grad_norm,
                                      epsilon=1e-5)
    act, update = make_act(policy), make_update(policy, optimizer, config)
    reward_rms, discounted = RunningMeanStd(), np.zeros(n)

    # ---- rollout storage, (T, n, ...) ----
    action_shape = (policy.action_dim,) if policy.continuous else ()
    b_obs = np.zeros((T, n, obs_dim), np.float32)
    b_raw_obs = np.zeros((T, n, obs_dim), np.float64)
    b_actions = np.zeros((T, n, *action_shape), np.float32 if policy.continuous else np.int64)
    b_log_probs, b_values, b_next_values, b_rewards, b_terminated, b_ended = (
        np.zeros((T, n), np.float32) for _ in range(6))

    # ---- the loop ----
    result = TrainResult(policy=policy)
    episode_return = np.zeros(n)
    next_eval = max(config.eval_start, config.eval_every) if config.eval_every else None
    best = (-np.inf, None)  # (mean return, snapshot) of the best in-training evaluation
    bar = ProgressBar(iterations * n * T, progress, "PPO " + config.env_id)
    start = time.perf_counter()
    step = 0
    for iteration in range(iterations):
        for t in range(T):
            b_raw_obs[t] = obs
            b_obs[t] = policy.normalize(obs)
            if policy.continuous:
                noise = rng.standard_normal((n, policy.action_dim)).astype(np.float32)
            else:
                noise = rng.gumbel(size=(n, policy.action_dim)).astype(np.float32)
            actions, log_probs, values = (x.numpy() for x in act(b_obs[t], noise))
            env_actions = actions  # the Gaussian's sample may leave the box: clip for the env
            if policy.continuous:
                env_actions = np.clip(actions, policy.low, policy.high)
            obs, rewards, terminated, truncated, info = envs.step(env_actions)
            ended = terminated | truncated
            b_actions[t], b_log_probs[t], b_values[t] = actions, log_probs, values
            b_terminated[t], b_ended[t] = terminated, ended

            episode_return += rewards
            step += n
            for i in np.flatnonzero(ended):
                result.curve.append((step, float(episode_return[i])))
            episode_return[ended] = 0.0
            if config.normalize_rewards:
                discounted = discounted * config.gamma + rewards
                reward_rms.update(discounted)
                rewards = rewards / np.sqrt(reward_rms.var + 1e-8)
                discounted[ended] = 0.0
            b_rewards[t] = rewards

            # BEGIN SOLUTION: V(true next obs) for episodes cut by the time limit (from final_obs)
            b_next_values[t] = 0.0  # filled from the next step's values below
            if truncated.any():
                final = np.stack(info["final_obs"][truncated])
                b_next_values[t, truncated] = policy.value(policy.normalize(final)).numpy()
            # END SOLUTION
            bar.update(n)
            if bar.due():
                bar.report(result.curve, std=float(np.exp(policy.log_std.numpy()).mean())
                           if policy.continuous else 0.0)

        # BEGIN SOLUTION: next values are the next step's values, except at episode ends
        last_values = policy.value(policy.normalize(obs)).numpy()  # (n,) V of the obs after T
        following = np.concatenate([b_values[1:], last_values[None]])
        b_next_values = np.where(b_ended > 0, b_next_values, following)
        advantages, returns = gae(b_rewards, b_values, b_next_values, b_terminated, b_ended,
                                  config.gamma, config.gae_lambda)
        # END SOLUTION

        index = np.stack([rng.permutation(n * T)[: n_minibatches * config.minibatch_size]
                          .reshape(n_minibatches, config.minibatch_size)
                          for _ in range(config.epochs)]).reshape(-1, config.minibatch_size)
        loss = update(b_obs.reshape(n * T, obs_dim), b_actions.reshape(n * T, *action_shape),
                      b_log_probs.reshape(-1), advantages.reshape(-1).astype(np.float32),
                      returns.reshape(-1).astype(np.float32), index)
        result.losses.append(float(loss))
        if config.normalize_obs:
            policy.obs_rms.update(b_raw_obs.reshape(n * T, obs_dim))

        last = iteration == iterations - 1
        if next_eval is not None and (step >= next_eval or last):
            next_eval += config.eval_every
            mean = float(np.mean(evaluate(policy, config.env_id, config.eval_episodes,
                                          seed=config.seed + EVAL_SEED_OFFSET // 2)))
            result.evaluations.append((step, mean))
            bar.write(f"step {step}: deterministic evaluation {mean:.1f}")
            if mean > best[0]:
                best = (mean, policy.snapshot())
            if config.stop_return is not None and mean >= config.stop_return:
                break
    if config.restore_best and best[1] is not None:
        policy.restore(best[1])  # the policy of the best in-training evaluation
    result.steps = step
    result.seconds = time.perf_counter() - start
    bar.close()
    envs.close()
    return result
