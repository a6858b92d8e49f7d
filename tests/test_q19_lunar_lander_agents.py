"""Question 19: the DQN and PPO agents, held to the reward thresholds.

Default run (seconds each): the agents run a tiny budget with a finite loss, their training steps
are compiled and change the networks, the replay buffer never receives a reset step, PPO
bootstraps a truncated episode from its final observation, the training and evaluation seeds are
disjoint, and a few thousand steps of learning move the returns on CartPole-v1.

Slow run (`--slow`, minutes): DQN solves LunarLander-v3 and PPO solves LunarLanderContinuous-v3,
judged by a 100-episode evaluation with the deterministic policy on seeds the agent never trained
on.
"""

import dataclasses

import numpy as np
import pytest

from kata.testing import called

SOLVED = 200.0  # gymnasium's reward threshold for both landers
EVAL_EPISODES = 100

# The slow tests' budgets and seeds, chosen after sweeping the reference over seeds (100
# evaluation episodes each, on seeds disjoint from training). PPO solved seeds 1-5 (100k-200k
# steps, 15-26 s; means 221-276). DQN (256x256, 50-episode in-training evaluations) solved every
# seed of 1-10 tried within 200,000 steps (50k-200k steps; means 205-237); seed 1 reached
# 237 +- 45 at 90,000 steps. Runs are deterministic per seed on a given machine (one TF thread).
DQN_BUDGET = 200_000
DQN_SEED = 1
PPO_BUDGET = 1_000_000
PPO_SEED = 1

# CartPole-v1: a random policy lasts about 22 steps. Over training seeds 0-19 the reference's
# greedy mean over 20 evaluation episodes was at least 103 for DQN (12,000 steps, about 7 s) and at
# least 376 for PPO (25,000 steps, about 4 s); the thresholds leave a wide margin below that.
CARTPOLE = "CartPole-v1"
RANDOM_CARTPOLE = 22.0
DQN_CARTPOLE_STEPS = 12_000
DQN_CARTPOLE_THRESHOLD = 60.0
PPO_CARTPOLE_STEPS = 25_000
PPO_CARTPOLE_THRESHOLD = 150.0


def tiny_dqn(target, env_id=CARTPOLE, **overrides):
    """A DQN config that trains a few hundred steps, without in-training evaluation."""
    base = dict(env_id=env_id, seed=0, total_steps=400, num_envs=4, learning_starts=100,
                train_every=8, gradient_steps=2, batch_size=32, buffer_size=1_000,
                target_update_every=8, eval_every=0)
    base.update(overrides)
    return target.dqn.Config(**base)


def tiny_ppo(target, env_id="LunarLanderContinuous-v3", **overrides):
    """A PPO config that trains two short rollouts, without in-training evaluation."""
    base = dict(env_id=env_id, seed=0, total_steps=2 * 4 * 32, num_envs=4, rollout_steps=32,
                minibatch_size=32, epochs=2, eval_every=0)
    base.update(overrides)
    return target.ppo.Config(**base)


def describe_config(config):
    fields = ", ".join(f"{f.name}={getattr(config, f.name)!r}" for f in dataclasses.fields(config)
                       if f.name in ("env_id", "seed", "total_steps", "num_envs"))
    return f"Config({fields}, ...)"


# --- smoke tests: the agents run ---------------------------------------------------------------


@pytest.mark.parametrize("env_id", [CARTPOLE, "LunarLander-v3"])
def test_dqn_runs_a_tiny_budget_with_a_finite_loss(target, env_id):
    config = tiny_dqn(target, env_id)
    result = target.dqn.train(config, progress=False)
    where = f"called dqn.train({describe_config(config)})"
    assert result.steps >= config.total_steps, (
        f"{where} took {result.steps} environment steps; expected the whole budget of "
        f"{config.total_steps} (no in-training evaluation can stop it early here)"
    )
    assert result.losses and np.all(np.isfinite(result.losses)), (
        f"{where} returned losses {result.losses[:5]}...: expected one finite loss per call of "
        "the training step (it runs every train_every steps after learning_starts)"
    )
    assert len(result.curve) > 0 and all(np.isfinite(r) for _, r in result.curve), (
        f"{where} recorded no finished episode in its learning curve; at least one CartPole or "
        "lander episode ends within a few hundred random steps"
    )


@pytest.mark.parametrize("env_id", ["LunarLanderContinuous-v3", "LunarLander-v3"])
def test_ppo_runs_a_tiny_budget_with_a_finite_loss(target, env_id):
    config = tiny_ppo(target, env_id)
    result = target.ppo.train(config, progress=False)
    where = f"called ppo.train({describe_config(config)})"
    assert result.steps == config.total_steps, (
        f"{where} took {result.steps} environment steps; expected two rollouts of "
        f"{config.num_envs} x {config.rollout_steps} = {config.total_steps}"
    )
    assert len(result.losses) == 2 and np.all(np.isfinite(result.losses)), (
        f"{where} returned losses {result.losses}: expected one finite loss per update (two)"
    )
    actions = result.policy(np.zeros((3, 8), np.float32))
    assert np.all(np.isfinite(actions)) and len(actions) == 3, (
        f"the trained policy maps 3 observations to {actions!r}; expected 3 finite actions"
    )


# --- the compiled steps -------------------------------------------------------------------------


def test_dqn_train_step_is_compiled_and_moves_only_the_online_network(target, tf):
    dqn = target.dqn
    config = dqn.Config(env_id=CARTPOLE, hidden=(16,), batch_size=8, gradient_steps=3)
    online, frozen = dqn.build_q_network(4, 2, config.hidden), dqn.build_q_network(4, 2, (16,))
    import keras

    optimizer = keras.optimizers.Adam(1e-2, clipnorm=config.clipnorm)
    step = dqn.make_train_step(online, frozen, optimizer, config)
    assert isinstance(step, tf.types.experimental.PolymorphicFunction), (
        f"make_train_step returned {type(step).__name__}; expected a tf.function (compiled once, "
        "then called without Python overhead for every minibatch)"
    )
    rng = np.random.default_rng(0)
    g, b = config.gradient_steps, config.batch_size
    batch = (rng.normal(size=(g, b, 4)).astype(np.float32), rng.integers(0, 2, (g, b)),
             rng.normal(size=(g, b)).astype(np.float32),
             rng.normal(size=(g, b, 4)).astype(np.float32),
             (rng.random((g, b)) < 0.3).astype(np.float32))
    before_online = [w.copy() for w in online.get_weights()]
    before_target = [w.copy() for w in frozen.get_weights()]
    loss = float(step(*batch))
    step(*batch)  # the first call may trace twice (Adam creates its slots), later calls never
    traced = step.experimental_get_tracing_count()
    step(*batch)
    assert np.isfinite(loss) and loss > 0, f"the training step returned the loss {loss}"
    after_online, after_target = online.get_weights(), frozen.get_weights()
    moved = [not np.allclose(a, w) for a, w in zip(before_online, after_online, strict=True)]
    kept = [np.array_equal(a, w) for a, w in zip(before_target, after_target, strict=True)]
    assert any(moved), (
        "after three calls of the training step the online Q-network's weights are unchanged: "
        "apply the gradients of the Huber loss to q_network.trainable_variables"
    )
    assert all(kept), (
        "the training step changed the target network: it must only be read (targets), and "
        "copied from the online network by update_target every target_update_every steps"
    )
    assert step.experimental_get_tracing_count() == traced, (
        "the training step was traced again when called with the same shapes; a compiled step "
        "is traced once per input signature (a retrace costs tens of milliseconds)"
    )


def test_dqn_update_target_copies_the_online_weights(target, tf):
    dqn = target.dqn
    online, frozen = dqn.build_q_network(4, 2, (8,)), dqn.build_q_network(4, 2, (8,))
    update = dqn.make_update_target(online, frozen)
    update()
    pairs = zip(online.get_weights(), frozen.get_weights(), strict=True)
    same = all(np.array_equal(a, b) for a, b in pairs)
    assert same, "after update_target() the target network's weights differ from the online ones"


def test_ppo_update_is_compiled_and_improves_the_objective(target, tf):
    ppo = target.ppo
    import gymnasium as gym
    import keras

    config = ppo.Config(hidden=(16,), minibatch_size=16)
    space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    policy = ppo.PPOPolicy(8, space, config.hidden)
    optimizer = keras.optimizers.Adam(1e-2)
    update = ppo.make_update(policy, optimizer, config)
    assert isinstance(update, tf.types.experimental.PolymorphicFunction), (
        f"make_update returned {type(update).__name__}; expected a tf.function"
    )
    act = ppo.make_act(policy)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(64, 8)).astype(np.float32)
    actions, log_probs, values = (x.numpy() for x in act(obs, rng.normal(size=(64, 2)).astype(
        np.float32)))
    assert actions.shape == (64, 2) and log_probs.shape == (64,) and values.shape == (64,), (
        f"{called('act', obs, '<noise 64x2>')} returned shapes {actions.shape}, "
        f"{log_probs.shape}, {values.shape}; expected (64, 2), (64,), (64,)"
    )
    advantages = np.where(actions[:, 0] > 0, 1.0, -1.0).astype(np.float32)  # favour a_0 > 0
    index = np.arange(64).reshape(4, 16)
    mean_before = float(policy.actor(obs)[:, 0].numpy().mean())
    loss = float(update(obs, actions, log_probs, advantages, np.zeros(64, np.float32), index))
    mean_after = float(policy.actor(obs)[:, 0].numpy().mean())
    assert np.isfinite(loss), f"the PPO update returned the loss {loss}"
    assert mean_after > mean_before, (
        f"advantages +1 for actions with a_0 > 0 and -1 otherwise should raise the mean of a_0; "
        f"it went from {mean_before:.4f} to {mean_after:.4f}: the update must minimise minus "
        "the clipped objective"
    )


# --- environment handling -----------------------------------------------------------------------


class _Recorder:
    """Wraps ReplayBuffer.add to keep every stored row."""

    def __init__(self, buffer_class):
        self.rows = []
        recorder = self

        class Recording(buffer_class):
            def add(self, obs, actions, rewards, next_obs, terminated):
                recorder.rows.append((np.array(rewards, copy=True),
                                      np.array(terminated, copy=True)))
                return super().add(obs, actions, rewards, next_obs, terminated)

        self.buffer_class = Recording


@pytest.mark.parametrize("n_step", [1, 3], ids=["one-step", "three-step"])
def test_dqn_never_stores_the_autoreset_step(target, monkeypatch, n_step):
    recorder = _Recorder(target.dqn.ReplayBuffer)
    monkeypatch.setattr(target.dqn, "ReplayBuffer", recorder.buffer_class)
    config = tiny_dqn(target, total_steps=800, n_step=n_step)
    result = target.dqn.train(config, progress=False)
    rewards = np.concatenate([r for r, _ in recorder.rows])
    terminated = np.concatenate([t for _, t in recorder.rows])
    episodes = len(result.curve)
    # CartPole pays 1 for every real step, so an m-step return is 1 + gamma + ... + gamma^(m-1).
    allowed = np.cumsum(config.gamma ** np.arange(n_step))
    wrong = ~np.isclose(rewards[:, None], allowed[None, :], atol=1e-5).any(axis=1)
    assert not wrong.any(), (
        f"{int(wrong.sum())} stored transitions have rewards such as {rewards[wrong][:3]}; with "
        f"n_step={n_step} every one must be among {np.round(allowed, 4)}. A missing 1 comes from "
        "the extra step a vector environment takes to reset after an episode ended (autoreset "
        "NEXT_STEP, reward 0): its 'transition' from the old episode's end to the new start is "
        "no step of the MDP and must not be stored"
    )
    if n_step == 1:
        assert len(rewards) == result.steps - _reset_steps(result), (
            f"the buffer received {len(rewards)} transitions for {result.steps} steps with "
            f"{episodes} finished episodes; expected one per real step"
        )
        assert terminated.sum() == episodes, (
            f"{int(terminated.sum())} stored transitions are marked terminated, but {episodes} "
            "CartPole episodes ended (all by termination in this short run)"
        )


def _reset_steps(result):
    """The number of autoreset steps: one per episode that ended before the last vector step."""
    last_step = result.steps
    return sum(1 for step, _ in result.curve if step < last_step)


def _record_reset_seeds(monkeypatch):
    import gymnasium as gym

    seeds = []
    original = gym.vector.SyncVectorEnv.reset

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            seeds.extend([seed] if isinstance(seed, int) else list(seed))
        return original(self, seed=seed, options=options)

    monkeypatch.setattr(gym.vector.SyncVectorEnv, "reset", reset)
    return seeds


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_evaluation_seeds_are_disjoint_from_training_seeds(target, monkeypatch, algo):
    seeds = _record_reset_seeds(monkeypatch)
    module = getattr(target, algo)
    config = tiny_dqn(target) if algo == "dqn" else tiny_ppo(target, CARTPOLE)
    result = module.train(config, progress=False)
    training = set(seeds)
    seeds.clear()
    returns = module.evaluate(result.policy, CARTPOLE, 6, seed=config.seed)
    evaluation = set(seeds)
    assert len(training) == config.num_envs, (
        f"{algo}.train reset its {config.num_envs} environments with the seeds "
        f"{sorted(training)}; expected one seed per environment (seeding block)"
    )
    assert len(evaluation) == 6 and np.shape(returns) == (6,), (
        f"{called(algo + '.evaluate', '<policy>', CARTPOLE, 6, seed=config.seed)} reset with "
        f"seeds {sorted(evaluation)} and returned shape {np.shape(returns)}; expected 6 "
        "distinct seeds and 6 returns, one per episode"
    )
    assert not training & evaluation, (
        f"training and evaluation share the seeds {sorted(training & evaluation)}: evaluate on "
        "episodes the agent never trained on"
    )


SHORT_CARTPOLE = "Q19ShortCartPole-v0"  # CartPole cut by a time limit of 8 steps


def test_ppo_bootstraps_truncated_episodes_from_their_final_observation(target, monkeypatch):
    import gymnasium as gym

    if SHORT_CARTPOLE not in gym.registry:
        gym.register(SHORT_CARTPOLE, entry_point="gymnasium.envs.classic_control:CartPoleEnv",
                     max_episode_steps=8)
    seen = {}
    real_gae = target.ppo.gae

    def spy(rewards, values, next_values, terminated, episode_ends, gamma, lam):
        seen.update(values=np.array(values), next_values=np.array(next_values),
                    terminated=np.array(terminated) > 0, ends=np.array(episode_ends) > 0)
        return real_gae(rewards, values, next_values, terminated, episode_ends, gamma, lam)

    monkeypatch.setattr(target.ppo, "gae", spy)
    config = tiny_ppo(target, SHORT_CARTPOLE, total_steps=4 * 32)
    target.ppo.train(config, progress=False)
    values, next_values = seen["values"], seen["next_values"]  # (T, n_envs)
    truncated = seen["ends"] & ~seen["terminated"]
    inside = ~seen["ends"][:-1]  # steps followed by a step of the same episode
    assert np.allclose(next_values[:-1][inside], values[1:][inside], atol=1e-5), (
        "inside an episode the next value of step t must be V(s_{t+1}), the value the rollout "
        "recorded at step t + 1"
    )
    assert truncated[:-1].any(), "the 8-step time limit truncated no episode: check the test env"
    cut = truncated[:-1]
    same_as_reset = np.isclose(next_values[:-1][cut], values[1:][cut], atol=1e-6)
    assert not same_as_reset.any() and np.all(next_values[:-1][cut] != 0.0), (
        f"at {int(cut.sum())} truncated steps the next values are "
        f"{np.round(next_values[:-1][cut][:4], 4)}...: a truncated episode bootstraps from "
        "V(final observation), which SAME_STEP autoreset leaves in info['final_obs']; not from "
        "0 (that is termination) and not from the value of the next episode's first observation"
    )


# --- learning moves returns ---------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_dqn_learning_raises_cartpole_returns(target):
    config = target.dqn.Config(env_id=CARTPOLE, seed=0, total_steps=DQN_CARTPOLE_STEPS,
                               num_envs=4, learning_starts=1_000, buffer_size=20_000,
                               batch_size=64, train_every=4, gradient_steps=2,
                               target_update_every=100, exploration_fraction=0.3,
                               learning_rate=1e-3, final_learning_rate=1e-3, n_step=3,
                               hidden=(128, 128), huber_delta=1.0, eval_every=0)
    result = target.dqn.train(config, progress=False)
    returns = target.dqn.evaluate(result.policy, CARTPOLE, 20, seed=0)
    assert returns.mean() >= DQN_CARTPOLE_THRESHOLD, (
        f"after {config.total_steps} steps of DQN on CartPole-v1 the greedy policy averages "
        f"{returns.mean():.1f} over 20 episodes (a random policy: about {RANDOM_CARTPOLE:g}); "
        f"the reference reaches at least {DQN_CARTPOLE_THRESHOLD:g} on every seed tried"
    )


@pytest.mark.timeout(120)
def test_ppo_learning_raises_cartpole_returns(target):
    config = target.ppo.Config(env_id=CARTPOLE, seed=0, total_steps=PPO_CARTPOLE_STEPS,
                               num_envs=8, rollout_steps=128, minibatch_size=256,
                               learning_rate=1e-3, gamma=0.99, gae_lambda=0.95,
                               entropy_coef=0.0, hidden=(64, 64), eval_every=0)
    result = target.ppo.train(config, progress=False)
    returns = target.ppo.evaluate(result.policy, CARTPOLE, 20, seed=0)
    assert returns.mean() >= PPO_CARTPOLE_THRESHOLD, (
        f"after {config.total_steps} steps of PPO on CartPole-v1 the most likely action "
        f"averages {returns.mean():.1f} over 20 episodes (random: about {RANDOM_CARTPOLE:g}); "
        f"the reference reaches at least {PPO_CARTPOLE_THRESHOLD:g} on every seed tried"
    )


# --- the thresholds (slow) ----------------------------------------------------------------------


def _verdict(name, env_id, result, returns, budget):
    return (
        f"{name} on {env_id}: after {result.steps} steps ({result.seconds:.0f} s, budget "
        f"{budget}) the deterministic policy averages {returns.mean():.1f} +- {returns.std():.1f} "
        f"over {len(returns)} evaluation episodes; solved means >= {SOLVED:g}. "
        f"In-training evaluations (step, mean): {[(s, round(m)) for s, m in result.evaluations]}"
    )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_dqn_solves_lunar_lander(target, capsys):
    config = target.dqn.Config(seed=DQN_SEED, total_steps=DQN_BUDGET)
    with capsys.disabled():  # the progress bar shows live, even though pytest captures output
        result = target.dqn.train(config, progress=True)
    returns = target.dqn.evaluate(result.policy, config.env_id, EVAL_EPISODES, seed=DQN_SEED)
    assert returns.mean() >= SOLVED, _verdict("DQN", config.env_id, result, returns, DQN_BUDGET)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ppo_solves_continuous_lunar_lander(target, capsys):
    config = target.ppo.Config(seed=PPO_SEED, total_steps=PPO_BUDGET)
    with capsys.disabled():  # the progress bar shows live, even though pytest captures output
        result = target.ppo.train(config, progress=True)
    returns = target.ppo.evaluate(result.policy, config.env_id, EVAL_EPISODES, seed=PPO_SEED)
    assert returns.mean() >= SOLVED, _verdict("PPO", config.env_id, result, returns, PPO_BUDGET)
