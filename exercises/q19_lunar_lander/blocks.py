"""Question 19, part 2: the building blocks of the two agents.

Implement these first; `dqn.py` and `ppo.py` are built from them, and each has exact-number tests.

- `ReplayBuffer`: a fixed-size memory of transitions for DQN, filled a batch at a time from
  vector environments, sampled uniformly with a given random generator.
- `linear_epsilon`: the exploration schedule of DQN.
- `td_targets`, `double_dqn_targets`: what the Q-network is regressed onto (TensorFlow ops: they
  run inside the compiled training step).
- `discounted_returns`, `gae`: returns and advantages of a rollout (NumPy).
- `gaussian_log_prob`, `ppo_clip_objective`: the pieces of the PPO loss (TensorFlow ops).

The TensorFlow blocks are decorated with the given `float_tensors`: whatever the caller passes
(NumPy arrays, lists, tensors, Python numbers, bools), they receive tensors of one float dtype.
Import TensorFlow inside each function (`import tensorflow as tf`), as the rest of the kata does.

Termination versus truncation, the rule that runs through this file: an episode *terminates* when
the MDP itself ends (the lander crashed, flew off screen or came to rest); there is no future
reward, so the value of the next state is 0. An episode is *truncated* when the time limit
(1000 steps) stops it; the lander is still flying and the state has a future, so the target must
still bootstrap from the value of the next state. Treating a truncation like a termination teaches
the agent that hovering near step 1000 is worth nothing, a bias the tests check for.
"""

import functools
from typing import NamedTuple

import numpy as np


class Batch(NamedTuple):
    """A minibatch of transitions, every field with the batch on its leading axis."""

    obs: np.ndarray  # (batch, *obs_shape)
    actions: np.ndarray  # (batch, *action_shape), int64 for discrete actions
    rewards: np.ndarray  # (batch,) float32
    next_obs: np.ndarray  # (batch, *obs_shape), the true next observation (also at episode ends)
    terminated: np.ndarray  # (batch,) float32, 1.0 where the MDP ended (never for truncation)


class ReplayBuffer:
    """A fixed-capacity memory of transitions that overwrites the oldest ones when full.

    `ReplayBuffer(capacity, obs_shape, obs_dtype=np.float32, action_shape=(),
    action_dtype=np.int64)` preallocates one NumPy array per field of `Batch`, each with
    `capacity` rows: observations and next observations `(capacity, *obs_shape)` of `obs_dtype`,
    actions `(capacity, *action_shape)` of `action_dtype` (the defaults fit a discrete action; a
    continuous one passes e.g. `action_shape=(2,), action_dtype=np.float32`), rewards and
    terminated flags `(capacity,)` float32.

    - `add(obs, actions, rewards, next_obs, terminated)` stores a *batch* of transitions, one row
      per vector environment (leading axis = number of environments). Rows go to consecutive slots
      after the previous write; past the last slot the writing wraps around to slot 0, so a single
      batch may be split across the end of the arrays. When full, each new row replaces the oldest.
    - `len(buffer)` is the number of transitions stored (at most `capacity`).
    - `sample(batch_size, rng)` draws slot indices with exactly
      `rng.integers(0, len(self), size=batch_size)` (uniform, with replacement) and returns the
      rows at those slots as a `Batch`.

    `terminated` must be the environment's `terminated` flag only, never `terminated | truncated`:
    a transition cut by the time limit is stored with `terminated=False` so that its target
    bootstraps (see `td_targets`).
    """

    def __init__(
        self, capacity, obs_shape, obs_dtype=np.float32, action_shape=(), action_dtype=np.int64
    ):
        """Preallocate the arrays; the buffer starts empty, writing at slot 0."""
        raise NotImplementedError("preallocate one array per field; keep a position and a size")

    def add(self, obs, actions, rewards, next_obs, terminated):
        """Store a batch of transitions (one row per environment), wrapping around at the end."""
        raise NotImplementedError("write the rows to consecutive slots modulo the capacity")

    def __len__(self):
        """The number of transitions stored, at most `capacity`."""
        raise NotImplementedError("count the stored transitions")

    def sample(self, batch_size, rng):
        """A `Batch` of `batch_size` rows at slots `rng.integers(0, len(self), size=batch_size)`."""
        raise NotImplementedError("draw the slot indices with rng.integers and gather the rows")


def linear_epsilon(step, start, end, duration):
    """The exploration rate at `step`: linear from `start` (step 0) to `end` (step `duration`),
    then constant `end`. Returns a Python float. A `duration` of 0 means `end` from the start."""
    raise NotImplementedError("interpolate by the fraction of the duration done, capped at 1")


def float_tensors(function):
    """Given: `function` receives every argument as a TensorFlow tensor of one float dtype.

    The dtype is tf.float64 if any array argument (a NumPy array, a list or a tensor) holds
    float64, else tf.float32; Python numbers (gamma, clip_eps) take that dtype too, and bool or
    integer flags become 0.0 / 1.0.
    """

    @functools.wraps(function)
    def with_float_tensors(*args):
        import tensorflow as tf

        dtype = tf.float32
        for x in args:
            if isinstance(x, (bool, int, float)):
                continue  # a Python number does not decide the dtype
            kind = getattr(x, "dtype", None)
            if tf.as_dtype(kind if kind is not None else np.asarray(x).dtype) == tf.float64:
                dtype = tf.float64
        return function(*(tf.cast(x, dtype) for x in args))

    return with_float_tensors


@float_tensors
def td_targets(rewards, next_q, terminated, gamma):
    """The DQN regression target of each transition, with TensorFlow ops.

    rewards (batch,), next_q (batch, n_actions) = Q_target(s', .), terminated (batch,) 0/1 or
    bool; NumPy arrays or tensors (`float_tensors` turns them into tensors of one float dtype).
    Returns a tensor (batch,) of that dtype:

        y = r + gamma * (1 - terminated) * max_a next_q[a]

    Only *termination* switches the bootstrap off: after a crash or a landing there is no future
    reward. A transition cut by the time limit (truncation) is not passed here as terminated, so
    it still bootstraps: the lander was still flying, and zeroing its future would make the net
    believe the states seen near the time limit are worthless.
    """
    raise NotImplementedError("reward plus the discounted best next value, unless terminated")


@float_tensors
def double_dqn_targets(rewards, next_q_online, next_q_target, terminated, gamma):
    """The Double DQN target of each transition, with TensorFlow ops.

    Like `td_targets`, but the next action is *chosen* by the online network and *valued* by the
    target network, which removes most of the overestimation that the max of noisy estimates
    brings:

        a* = argmax_a next_q_online[a],   y = r + gamma * (1 - terminated) * next_q_target[a*]

    next_q_online, next_q_target (batch, n_actions) are Q(s', .) of the online and of the target
    network. Shapes, dtypes and the termination/truncation rule as in `td_targets`: a truncated
    transition is not terminated and bootstraps. Returns a tensor (batch,).
    """
    raise NotImplementedError("pick a* with the online net, take its value from the target net")


def discounted_returns(rewards, dones, gamma, last_value=0.0):
    """The discounted return of every step of a rollout, with NumPy.

    rewards, dones: (T,) or (T, n_envs); dones is 1/True where an episode ended at that step.
    last_value: a scalar or (n_envs,), the value of the state after the last step (0 if unknown).
    Returns an array shaped like rewards (float32 stays float32, anything else becomes float64):

        G_{T-1} = r_{T-1} + gamma * (1 - done_{T-1}) * last_value
        G_t     = r_t + gamma * (1 - done_t) * G_{t+1}

    An episode end stops the sum, so no reward of the next episode leaks into this one. (This
    treats every end alike; `gae` is the one that tells truncation from termination.)
    """
    raise NotImplementedError("sweep backwards, restarting the return at episode ends")


def gae(rewards, values, next_values, terminated, episode_ends, gamma, lam):
    """Generalized advantage estimation over a rollout, with NumPy.

    All inputs (T,) or (T, n_envs): rewards r_t, values V(s_t), next_values V(s_{t+1}),
    terminated (the MDP ended at step t), episode_ends (terminated | truncated at step t).
    For a step that ends an episode, s_{t+1} is that episode's true final observation (not the
    first observation of the next episode that a vector environment returns after its reset).
    Returns (advantages, returns), both shaped like rewards, returns = advantages + values:

        delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t
        A_t     = delta_t + gamma * lam * (1 - episode_ends_t) * A_{t+1},   A_T = 0

    Two different flags, two different jobs: `terminated` decides whether the one-step target
    bootstraps (a truncated step does: the lander still had a future), `episode_ends` stops the
    sum of advantages at any episode boundary (the next step belongs to another episode).
    Float32 inputs give float32 outputs; anything else gives float64.
    """
    raise NotImplementedError("TD errors, then a backward sweep accumulating gamma * lam")


@float_tensors
def gaussian_log_prob(actions, mean, log_std):
    """log pi(a | s) of a diagonal Gaussian policy, with TensorFlow ops.

    actions, mean: (batch, action_dim); log_std: (action_dim,) or (batch, action_dim), the log of
    the standard deviation of each action dimension. NumPy arrays or tensors (`float_tensors`
    makes them tensors of one float dtype). Returns a tensor (batch,) of that dtype: the log
    density of each action, summed over the independent action dimensions:

        sum_i [ -(a_i - mu_i)^2 / (2 sigma_i^2) - log sigma_i - log(2 pi) / 2 ]
    """
    raise NotImplementedError("the per-dimension normal log density, summed over the last axis")


@float_tensors
def ppo_clip_objective(log_prob_new, log_prob_old, advantages, clip_eps):
    """The clipped surrogate objective of PPO (to be *maximised*), with TensorFlow ops.

    log_prob_new: (batch,) log pi_new(a|s) of the policy being trained; log_prob_old: (batch,)
    log pi_old(a|s) recorded when the actions were taken; advantages (batch,); NumPy arrays or
    tensors (`float_tensors` makes them tensors of one float dtype). Returns a scalar tensor of
    that dtype:

        ratio = exp(log_prob_new - log_prob_old)
        mean over the batch of min(ratio * A, clip(ratio, 1 - clip_eps, 1 + clip_eps) * A)

    The min makes the objective pessimistic: moving the ratio beyond the clip range can never
    increase it, so one batch cannot push the policy far from the one that collected the data.
    A training step minimises its negative.
    """
    raise NotImplementedError("the mean of the smaller of the unclipped and the clipped surrogate")
