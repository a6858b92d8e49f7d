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
        # BEGIN SOLUTION: preallocate one array per field; keep a position and a size
        # HINT: Allocate everything now: one array per field of `Batch`, each with `capacity` rows,
        #   and two counters, the slot the next row goes to and how many slots are filled.
        # HINT: Observations and next observations are `(capacity, *obs_shape)` of `obs_dtype`;
        #   actions `(capacity, *action_shape)` of `action_dtype`; rewards and terminated flags
        #   float32 of shape `(capacity,)`. Use `np.zeros` with an explicit dtype, and make the
        #   shapes tuples first.
        self.capacity = int(capacity)
        obs_shape = tuple(obs_shape)
        action_shape = tuple(action_shape)
        self.obs = np.zeros((self.capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((self.capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((self.capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros((self.capacity,), dtype=np.float32)
        self.terminated = np.zeros((self.capacity,), dtype=np.float32)
        self.pos = 0  # the slot the next row goes to
        self.size = 0  # how many slots hold a transition
        # END SOLUTION

    def add(self, obs, actions, rewards, next_obs, terminated):
        """Store a batch of transitions (one row per environment), wrapping around at the end."""
        # BEGIN SOLUTION: write the rows to consecutive slots modulo the capacity
        # HINT: Picture a ring: row k of the batch goes to slot (position + k) modulo the capacity;
        #   then the position moves on by the batch size, modulo the capacity, and the size grows up
        #   to the capacity, never beyond.
        # HINT: Compute all the slots at once with `np.arange` and `%`, and assign every field by
        #   fancy indexing: unlike a slice this copes with a batch that runs past the end. Pass the
        #   inputs through `np.asarray` first (terminated may come as bools).
        # HINT: A batch longer than the whole buffer would write some slots twice: keep only its
        #   newest rows, as many as the buffer can hold.
        actions = np.asarray(actions)
        n = len(actions)
        rows = np.arange(n)
        if n > self.capacity:  # only the newest `capacity` rows survive
            rows = rows[n - self.capacity :]
            self.pos = (self.pos + n - self.capacity) % self.capacity
        slots = (self.pos + np.arange(len(rows))) % self.capacity
        self.obs[slots] = np.asarray(obs)[rows]
        self.actions[slots] = actions[rows]
        self.rewards[slots] = np.asarray(rewards)[rows]
        self.next_obs[slots] = np.asarray(next_obs)[rows]
        self.terminated[slots] = np.asarray(terminated)[rows]
        self.pos = (self.pos + len(rows)) % self.capacity
        self.size = min(self.size + len(rows), self.capacity)
        # END SOLUTION

    def __len__(self):
        """The number of transitions stored, at most `capacity`."""
        # BEGIN SOLUTION: count the stored transitions
        # HINT: Return the number of filled slots that `add` keeps up to date, not the capacity.
        # HINT: Until the buffer is full it is the number of rows added so far; after that it stays
        #   at the capacity.
        return self.size
        # END SOLUTION

    def sample(self, batch_size, rng):
        """A `Batch` of `batch_size` rows at slots `rng.integers(0, len(self), size=batch_size)`."""
        # BEGIN SOLUTION: draw the slot indices with rng.integers and gather the rows
        # HINT: Draw the slot indices exactly as the docstring says, with the generator you are
        #   given, and gather every field at those indices.
        # HINT: Use one index array for all five fields, so that each row stays one transition, and
        #   return them in `Batch`'s order. Drawing below `len(self)`, not the capacity, keeps the
        #   empty slots out; an empty buffer should raise instead.
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = rng.integers(0, len(self), size=batch_size)
        return Batch(
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.terminated[idx],
        )
        # END SOLUTION


def linear_epsilon(step, start, end, duration):
    """The exploration rate at `step`: linear from `start` (step 0) to `end` (step `duration`),
    then constant `end`. Returns a Python float. A `duration` of 0 means `end` from the start."""
    # BEGIN SOLUTION: interpolate by the fraction of the duration done, capped at 1
    # HINT: Work out which fraction of the decay is done at `step`, cap it at one, and move that
    #   fraction of the way from `start` to `end`.
    # HINT: Deal with the end first: once `step` has reached `duration` return `end`, which also
    #   covers a zero duration, where the division would fail. Return a Python `float`.
    if step >= duration:
        return float(end)
    fraction = max(step, 0) / duration
    return float(start + fraction * (end - start))
    # END SOLUTION


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
    # BEGIN SOLUTION: reward plus the discounted best next value, unless terminated
    # HINT: Per row: the reward, plus gamma times the value of the best next action, with that
    #   second term switched off where the transition terminated.
    # HINT: `tf.reduce_max` over the action axis gives the best next Q-value of each row; multiply
    #   it by `gamma` and by one minus the terminated flag (already a float tensor, thanks to
    #   `float_tensors`). No Python `if` per row: the whole batch at once.
    # HINT: Truncation needs nothing here: a time-limit cut arrives as not terminated and bootstraps
    #   like any other step.
    import tensorflow as tf

    return rewards + gamma * (1.0 - terminated) * tf.reduce_max(next_q, axis=-1)
    # END SOLUTION


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
    # BEGIN SOLUTION: pick a* with the online net, take its value from the target net
    # HINT: Two networks, two jobs: the online network's Q-values choose the next action, the target
    #   network's Q-values say what that action is worth.
    # HINT: `tf.argmax` over the actions of `next_q_online` gives one index per row; read the target
    #   network's value at that index with `tf.gather` and its `batch_dims` argument (or a one-hot
    #   mask and a sum). Then the same bootstrapped formula as `td_targets`.
    # HINT: The slip the hand-computed test catches: taking the max of the target network's values,
    #   which is plain DQN's target and overestimates.
    import tensorflow as tf

    best = tf.argmax(next_q_online, axis=-1)  # (batch,)
    next_value = tf.gather(next_q_target, best, axis=-1, batch_dims=1)  # (batch,)
    return rewards + gamma * (1.0 - terminated) * next_value
    # END SOLUTION


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
    # BEGIN SOLUTION: sweep backwards, restarting the return at episode ends
    # HINT: Sweep backwards in time: the last step's return is its reward plus the discounted
    #   `last_value`, and every earlier return is its reward plus the discounted return of the step
    #   after it.
    # HINT: Where an episode ended at step t, the return carried from step t + 1 must not flow in:
    #   multiply it by one minus `done`. Keep one running value per environment (the shape of one
    #   time step of `rewards`, broadcast from `last_value`) so that (T,) and (T, n_envs) work
    #   alike.
    # HINT: Compute in float64 and cast at the end: `np.result_type` of the rewards' dtype and
    #   float32 is float32 for float32 rewards and float64 otherwise.
    rewards = np.asarray(rewards)
    dtype = np.result_type(rewards.dtype, np.float32)
    not_done = 1.0 - np.asarray(dones, dtype=np.float64)
    returns = np.zeros(rewards.shape, dtype=np.float64)
    running = np.broadcast_to(np.asarray(last_value, dtype=np.float64), rewards.shape[1:])
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * not_done[t] * running
        returns[t] = running
    return returns.astype(dtype)
    # END SOLUTION


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
    # BEGIN SOLUTION: TD errors, then a backward sweep accumulating gamma * lam
    # HINT: Two passes: first the one-step TD error of every step (vectorised over the whole
    #   rollout), then a backward sweep that adds gamma times lam times the next advantage.
    # HINT: The TD error uses `terminated` (a truncated step still bootstraps from `next_values`);
    #   the sweep is cut by `episode_ends` (the next step belongs to another episode). Using one
    #   flag for both jobs is the slip the hand-computed test catches.
    # HINT: The returns are the advantages plus the values. Turn the bool flags into floats before
    #   subtracting them from one, and give float32 back for float32 inputs, as in
    #   `discounted_returns`.
    rewards, values = np.asarray(rewards), np.asarray(values)
    dtype = np.result_type(rewards.dtype, values.dtype, np.float32)
    rewards = rewards.astype(np.float64)
    values64 = values.astype(np.float64)
    next_values = np.asarray(next_values, dtype=np.float64)
    not_terminated = 1.0 - np.asarray(terminated, dtype=np.float64)
    not_ended = 1.0 - np.asarray(episode_ends, dtype=np.float64)
    deltas = rewards + gamma * not_terminated * next_values - values64
    advantages = np.zeros_like(deltas)
    running = np.zeros(deltas.shape[1:])
    for t in reversed(range(len(deltas))):
        running = deltas[t] + gamma * lam * not_ended[t] * running
        advantages[t] = running
    return advantages.astype(dtype), (advantages + values64).astype(dtype)
    # END SOLUTION


@float_tensors
def gaussian_log_prob(actions, mean, log_std):
    """log pi(a | s) of a diagonal Gaussian policy, with TensorFlow ops.

    actions, mean: (batch, action_dim); log_std: (action_dim,) or (batch, action_dim), the log of
    the standard deviation of each action dimension. NumPy arrays or tensors (`float_tensors`
    makes them tensors of one float dtype). Returns a tensor (batch,) of that dtype: the log
    density of each action, summed over the independent action dimensions:

        sum_i [ -(a_i - mu_i)^2 / (2 sigma_i^2) - log sigma_i - log(2 pi) / 2 ]
    """
    # BEGIN SOLUTION: the per-dimension normal log density, summed over the last axis
    # HINT: The action dimensions are independent normals, so the log density of the action is the
    #   sum, over the last axis, of one log density per dimension.
    # HINT: With sigma the exponential of `log_std`, standardise z = (a - mu) / sigma; each
    #   dimension adds minus half of z squared, minus `log_std` (the log of sigma, no need to take
    #   it again), minus half the log of two pi. Use `tf.exp`, `tf.square` and `tf.reduce_sum` over
    #   the last axis.
    # HINT: Keep the constant in the inputs' dtype, so that float64 stays float64: cast it, or let
    #   it come from Python floats. `log_std` of shape (action_dim,) broadcasts against the batch.
    import tensorflow as tf

    z = (actions - mean) * tf.exp(-log_std)  # (batch, action_dim)
    per_dim = -0.5 * tf.square(z) - log_std - tf.cast(0.5 * np.log(2.0 * np.pi), actions.dtype)
    return tf.reduce_sum(per_dim, axis=-1)
    # END SOLUTION


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
    # BEGIN SOLUTION: the mean of the smaller of the unclipped and the clipped surrogate
    # HINT: The probability ratio is the exponential of the difference of the log-probabilities; the
    #   objective averages, over the batch, the smaller of two surrogates.
    # HINT: One surrogate is the ratio times the advantage, the other the ratio clipped to the clip
    #   range (`tf.clip_by_value`) times the advantage; take `tf.minimum` element by element, then
    #   `tf.reduce_mean`. Clip the ratio, not the product, and take the min before the mean.
    # HINT: Return the objective itself, to be maximised: the minus sign belongs to the loss in
    #   `ppo.py`.
    import tensorflow as tf

    ratio = tf.exp(log_prob_new - log_prob_old)
    clipped = tf.clip_by_value(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return tf.reduce_mean(tf.minimum(ratio * advantages, clipped * advantages))
    # END SOLUTION
