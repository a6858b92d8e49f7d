"""Question 19: the Lunar Lander MDP (checked against gymnasium itself) and the agents' blocks.

The MDP tests never compare the learner's description with constants of ours: every number is
read from `gymnasium.make(...)` (spaces, time limit, threshold) or from stepping the environment
(the shaping potential it keeps, the fuel it charges, the reward of a crash and of a landing).
The block tests have hand-computed cases and random cases against plain Python loops.
"""

import math

import numpy as np
import pytest

from kata.statements import at_grading, key_hidden
from kata.testing import called, fail, seeds

DISCRETE_ID = "LunarLander-v3"
CONTINUOUS_ID = "LunarLanderContinuous-v3"
ENV_IDS = [DISCRETE_ID, CONTINUOUS_ID]
MDP_NAME = {DISCRETE_ID: "DISCRETE", CONTINUOUS_ID: "CONTINUOUS"}
POLICY_GRADIENT = {"ppo", "a2c", "a3c", "reinforce", "vpg", "trpo", "ddpg", "td3", "sac"}
SEEDS = range(3)


@pytest.fixture(scope="module")
def gym():
    """gymnasium, imported on first use."""
    import gymnasium

    return gymnasium


def make(gym, env_id):
    return gym.make(env_id)


def require(value, where):
    """Fail with a hint if a field of the description is still a placeholder."""
    __tracebackhide__ = True
    if value is None:
        fail(f"{where} is None: fill it in (mdp.py)")
    return value


def mdp_of(target, env_id):
    name = MDP_NAME[env_id]
    return require(getattr(target.mdp, name), f"mdp.{name}"), f"mdp.{name}"


def require_reward(target):
    reward = require(target.mdp.REWARD, "mdp.REWARD")
    for field in (
        "distance_weight",
        "speed_weight",
        "tilt_weight",
        "leg_contact_bonus",
        "main_engine_cost",
        "side_engine_cost",
        "crash_reward",
        "rest_reward",
    ):
        require(getattr(reward, field), f"mdp.REWARD.{field}")
    return reward


def potential(reward, obs):
    """The shaping potential of one observation according to the learner's RewardModel."""
    x, y, vx, vy, angle, _, leg_a, leg_b = (float(v) for v in obs)
    return (
        reward.distance_weight * math.hypot(x, y)
        + reward.speed_weight * math.hypot(vx, vy)
        + reward.tilt_weight * abs(angle)
        + reward.leg_contact_bonus * (leg_a + leg_b)
    )


def fuel_charged(env, action):
    """Step `env` once; return the fuel gymnasium charged (reward minus the change of its own
    shaping potential), the observation and whether the episode terminated."""
    before = env.unwrapped.prev_shaping
    obs, reward, terminated, _, _ = env.step(action)
    after = env.unwrapped.prev_shaping
    return (after - before) - reward, obs, terminated


# ============================================================================================
# The MDP, checked against the environments
# ============================================================================================


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observation_space_matches_gymnasium(target, gym, env_id):
    space = make(gym, env_id).observation_space
    mdp, name = mdp_of(target, env_id)
    shape = require(mdp.observation_shape, f"{name}.observation_shape")
    assert tuple(shape) == space.shape, (
        f"{name}.observation_shape is {shape}, but gymnasium.make({env_id!r}).observation_space "
        f"has shape {space.shape}"
    )
    entries = tuple(mdp.observation)
    assert len(entries) == space.shape[0], (
        f"{name}.observation describes {len(entries)} entries; the observation has "
        f"{space.shape[0]}: one ObservationVariable per entry, in order"
    )
    for i, entry in enumerate(entries):
        assert entry.index == i, f"{name}.observation[{i}].index is {entry.index}, expected {i}"
        for bound, gym_bounds in (("low", space.low), ("high", space.high)):
            value = require(getattr(entry, bound), f"{name}.observation[{i}].{bound}")
            assert math.isclose(value, float(gym_bounds[i]), abs_tol=1e-5), (
                f"{name}.observation[{i}] ({entry.name}) has {bound}={value}, but gymnasium's "
                f"observation space says {float(gym_bounds[i])}"
                + (" (the leg-contact entries are flags: 0.0 or 1.0)" if i >= 6 else "")
            )


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_action_space_matches_gymnasium(target, gym, env_id):
    space = make(gym, env_id).action_space
    mdp, name = mdp_of(target, env_id)
    kind = "discrete" if isinstance(space, gym.spaces.Discrete) else "continuous"
    assert mdp.action_kind == kind, (
        f"{name}.action_kind is {mdp.action_kind!r}, expected {kind!r}: gymnasium's action "
        f"space is {space}"
    )
    shape = require(mdp.action_shape, f"{name}.action_shape")
    assert tuple(shape) == space.shape, (
        f"{name}.action_shape is {shape}, gymnasium's action space {space} has shape "
        f"{space.shape}" + (" (a single integer has shape ())" if kind == "discrete" else "")
    )
    actions = tuple(mdp.actions)
    count = space.n if kind == "discrete" else space.shape[0]
    what = "actions" if kind == "discrete" else "action dimensions"
    assert len(actions) == count, (
        f"{name}.actions describes {len(actions)} {what}, gymnasium's {space} has {count}"
    )
    for i, action in enumerate(actions):
        assert action.index == i, f"{name}.actions[{i}].index is {action.index}, expected {i}"
    if kind == "discrete":
        engines = sorted(str(a.engine) for a in actions)
        assert engines == ["left", "main", "none", "right"], (
            f"{name}.actions fire the engines {engines}; the four actions are: nothing, and "
            "one each for the 'left', 'main' and 'right' engines"
        )
    else:
        for i, control in enumerate(actions):
            for bound, gym_bounds in (("low", space.low), ("high", space.high)):
                value = require(getattr(control, bound), f"{name}.actions[{i}].{bound}")
                assert math.isclose(value, float(gym_bounds[i])), (
                    f"{name}.actions[{i}].{bound} is {value}, gymnasium's action space says "
                    f"{float(gym_bounds[i])}"
                )
        assert [c.engine for c in actions] == ["main", "lateral"], (
            f"{name}.actions control the engines {[c.engine for c in actions]}; gymnasium's "
            "first action value is the main engine's throttle, the second the side engines'"
        )


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_time_limit_and_solved_threshold_match_gymnasium(target, gym, env_id):
    spec = make(gym, env_id).spec
    mdp, name = mdp_of(target, env_id)
    assert mdp.env_id == env_id, f"{name}.env_id is {mdp.env_id!r}, expected {env_id!r}"
    steps = require(mdp.max_episode_steps, f"{name}.max_episode_steps")
    assert steps == spec.max_episode_steps, (
        f"{name}.max_episode_steps is {steps}, gymnasium truncates {env_id} after "
        f"{spec.max_episode_steps} steps (spec.max_episode_steps, the TimeLimit wrapper)"
    )
    threshold = require(mdp.solved_threshold, f"{name}.solved_threshold")
    assert threshold == spec.reward_threshold, (
        f"{name}.solved_threshold is {threshold}, gymnasium's spec.reward_threshold for "
        f"{env_id} is {spec.reward_threshold}"
    )
    assert len(tuple(mdp.terminates_when)) >= 3, (
        f"{name}.terminates_when lists {len(tuple(mdp.terminates_when))} conditions; the MDP "
        "ends in three ways (look at where the environment sets terminated=True)"
    )


def test_discrete_actions_fire_the_engines_they_name(target, gym):
    """Compare five steps of each action with five steps with all engines off, same seed."""
    mdp, name = mdp_of(target, DISCRETE_ID)
    actions = tuple(mdp.actions)
    assert len(actions) == 4, f"{name}.actions describes {len(actions)} actions, expected 4"

    def after_five_steps(env_id, action):
        env = make(gym, env_id)
        obs, _ = env.reset(seed=3)
        for _ in range(5):
            obs, *_ = env.step(action)
        return obs

    # engines off in the continuous twin: same physics, same random draws
    baseline = after_five_steps(CONTINUOUS_ID, np.zeros(2, dtype=np.float32))
    for action in actions:
        diff = after_five_steps(DISCRETE_ID, action.index) - baseline  # (8,)
        vx, vy, spin = diff[2], diff[3], diff[5]
        seen = f"vx {vx:+.3f}, vy {vy:+.3f}, angular velocity {spin:+.3f}"
        does = {
            "none": bool(np.allclose(diff, 0.0)),
            "main": bool(vy > 0.05),
            "left": bool(vx < -0.01 and spin > 0.05),
            "right": bool(vx > 0.01 and spin < -0.05),
        }
        assert does.get(action.engine, False), (
            f"{name}.actions[{action.index}] says it fires engine {action.engine!r}, but five "
            f"steps of action {action.index} changed (against five steps with no engine) {seen}: "
            "the main engine pushes up, the left engine pushes left and turns the lander "
            "counter-clockwise, the right engine the opposite, no engine changes nothing"
        )


def test_fuel_cost_of_each_discrete_action_matches_gymnasium(target, gym):
    mdp, name = mdp_of(target, DISCRETE_ID)
    reward = require_reward(target)
    actions = tuple(mdp.actions)
    assert len(actions) == 4, f"{name}.actions describes {len(actions)} actions, expected 4"
    cost = {
        "none": 0.0,
        "main": reward.main_engine_cost,
        "left": reward.side_engine_cost,
        "right": reward.side_engine_cost,
    }
    env = make(gym, DISCRETE_ID)
    for action in actions:
        env.reset(seed=7)
        charged, _, _ = fuel_charged(env, action.index)
        expected = cost.get(action.engine)
        assert expected is not None and math.isclose(charged, expected, abs_tol=1e-9), (
            f"action {action.index} ({name}.actions says engine {action.engine!r}): gymnasium "
            f"charged {charged:.4f} for fuel (reward minus the change of its shaping potential), "
            f"your description predicts {expected}: main_engine_cost "
            f"{reward.main_engine_cost}, side_engine_cost {reward.side_engine_cost} per frame"
        )


CONTINUOUS_ACTIONS = [
    (-1.0, 0.0),
    (0.0, 0.0),
    (0.5, 0.0),
    (1.0, 0.0),
    (0.0, -0.5),
    (0.0, 0.5),
    (-0.5, -0.75),
    (0.2, 0.6),
    (1.0, -1.0),
    (-0.3, 1.0),
]


@pytest.mark.parametrize(
    "action",
    CONTINUOUS_ACTIONS,
    ids=[f"main={m:+.2f},lateral={s:+.2f}" for m, s in CONTINUOUS_ACTIONS],
)
def test_continuous_dead_zones_and_throttle_match_gymnasium(target, gym, action):
    mdp, name = mdp_of(target, CONTINUOUS_ID)
    reward = require_reward(target)
    controls = {str(c.engine): c for c in tuple(mdp.actions)}
    assert set(controls) == {"main", "lateral"}, (
        f"{name}.actions controls {sorted(controls)}, expected one 'main' and one 'lateral'"
    )

    def throttle(control, value):
        where = f"{name}.actions[{control.index}]"
        off_low, off_high = require(control.off, f"{where}.off")
        lo, hi = require(control.low, f"{where}.low"), require(control.high, f"{where}.high")
        start = require(control.min_throttle, f"{where}.min_throttle")
        full = require(control.max_throttle, f"{where}.max_throttle")
        if off_low <= value <= off_high:
            return 0.0
        if value > off_high:
            return start + (full - start) * (value - off_high) / (hi - off_high)
        return start + (full - start) * (off_low - value) / (off_low - lo)

    main, lateral = action
    expected = reward.main_engine_cost * throttle(
        controls["main"], main
    ) + reward.side_engine_cost * throttle(controls["lateral"], lateral)
    env = make(gym, CONTINUOUS_ID)
    env.reset(seed=11)
    charged, _, _ = fuel_charged(env, np.array(action, dtype=np.float32))
    assert math.isclose(charged, expected, abs_tol=1e-6), (
        f"env.step([{main}, {lateral}]) in {CONTINUOUS_ID}: gymnasium charged {charged:.4f} for "
        f"fuel, your description predicts {expected:.4f} (engines off inside {name}.actions[i]."
        "off, throttle rising linearly from min_throttle to max_throttle beyond it, costs "
        "REWARD.main_engine_cost and REWARD.side_engine_cost at full throttle)"
    )


def test_shaping_potential_matches_gymnasium(target, gym):
    """Random actions until a crash: the learner's potential of every observation must equal
    the potential gymnasium keeps (`env.unwrapped.prev_shaping`)."""
    reward = require_reward(target)
    env = make(gym, DISCRETE_ID)
    env.action_space.seed(2)
    obs, _ = env.reset(seed=2)
    legs_seen = False
    for step in range(1000):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        legs_seen |= bool(obs[6] or obs[7])
        ours, theirs = potential(reward, obs), env.unwrapped.prev_shaping
        assert math.isclose(ours, theirs, abs_tol=2e-3), (
            f"step {step}: observation {np.round(obs, 3).tolist()}, your RewardModel gives the "
            f"potential {ours:.4f}, gymnasium's is {theirs:.4f}: potential = distance_weight * "
            "|(x, y)| + speed_weight * |(vx, vy)| + tilt_weight * |angle| + leg_contact_bonus "
            "* legs on the ground"
        )
        if terminated or truncated:
            break
    assert legs_seen, "test setup: this episode never touched the ground with a leg"


def test_episode_end_rewards_match_gymnasium(target, gym):
    """A crash (random actions) and a landing (gymnasium's own heuristic pilot)."""
    from gymnasium.envs.box2d.lunar_lander import heuristic

    reward = require_reward(target)
    env = make(gym, DISCRETE_ID)
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(1000):
        _, got, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    assert terminated and env.unwrapped.lander.awake, "test setup: expected a crash"
    assert got == reward.crash_reward, (
        f"random actions crashed the lander; the last step's reward was {got}, "
        f"REWARD.crash_reward is {reward.crash_reward} (a crash replaces that step's reward)"
    )
    obs, _ = env.reset(seed=1)
    for _ in range(1000):
        obs, got, terminated, truncated, _ = env.step(heuristic(env.unwrapped, obs))
        if terminated or truncated:
            break
    assert terminated and not env.unwrapped.lander.awake, "test setup: expected a landing"
    assert got == reward.rest_reward, (
        f"gymnasium's heuristic pilot landed and the lander came to rest; the last step's "
        f"reward was {got}, REWARD.rest_reward is {reward.rest_reward}"
    )


def test_choose_algorithm_picks_dqn_for_discrete_actions(target, gym):
    space = make(gym, DISCRETE_ID).action_space
    got = target.mdp.choose_algorithm(DISCRETE_ID)
    assert isinstance(got, str) and got.lower() == "dqn", (
        f"{called('choose_algorithm', DISCRETE_ID)} returned {got!r}, expected 'dqn': the "
        f"action space is {space}, so a Q-network can output one value per action, and both the "
        "greedy action and the target max_a Q(s', a) are a max over 4 numbers; replaying old "
        "transitions makes DQN sample-efficient"
    )


def test_choose_algorithm_avoids_dqn_for_continuous_actions(target, gym):
    space = make(gym, CONTINUOUS_ID).action_space
    assert isinstance(space, gym.spaces.Box) and not hasattr(space, "n")  # no list of actions
    got = target.mdp.choose_algorithm(CONTINUOUS_ID)
    assert isinstance(got, str) and got.lower() in POLICY_GRADIENT, (
        f"{called('choose_algorithm', CONTINUOUS_ID)} returned {got!r}, expected a policy-"
        f"gradient method such as 'ppo' (any of {sorted(POLICY_GRADIENT)}): the action space is "
        f"{space}, infinitely many actions. DQN's network outputs one Q-value per action and "
        "needs argmax_a Q(s, a) to act and max_a Q(s', a) for its target; over an infinite set "
        "there is no output per action, and the max would be an optimisation problem at every "
        "step. A policy network outputs a distribution over actions (a Gaussian's mean and "
        "standard deviation) and samples from it"
    )


def test_choose_algorithm_rejects_unknown_ids(target):
    with pytest.raises(ValueError):
        target.mdp.choose_algorithm("CartPole-v1")


ANSWER_PARTS = ("mdp", "difference", "algorithm")

# BEGIN EXAM KEY: the words a written answer cannot do without (they point at the answers)
MUST_MENTION = {
    "mdp": ("state", "action", "reward"),
    "difference": ("continuous", "action"),
    "algorithm": ("dqn", "polic"),
}
# STUB: MUST_MENTION = None
# END EXAM KEY


def test_exam_answers_are_written(target):
    answers = require(target.mdp.ANSWERS, "mdp.ANSWERS")
    texts = {}
    for part in ANSWER_PARTS:
        text = require(getattr(answers, part), f"mdp.ANSWERS.{part}")
        assert isinstance(text, str) and len(text.split()) >= 20, (
            f"mdp.ANSWERS.{part} has {len(str(text).split())} words; answer in a few sentences"
        )
        texts[part] = text
    if key_hidden(MUST_MENTION):
        at_grading(
            "mdp.ANSWERS (" + ", ".join(f"{p}: {len(texts[p].split())} words" for p in texts) + ")"
        )
    for part, words in MUST_MENTION.items():
        missing = [w for w in words if w not in texts[part].lower()]
        assert not missing, f"mdp.ANSWERS.{part} never mentions {missing}; an answer would"


# ============================================================================================
# Replay buffer and epsilon schedule
# ============================================================================================


def filled_buffer(target, capacity, ids, batch=1):
    """A buffer fed transitions whose every field encodes its id, `batch` rows per add."""
    buffer = target.blocks.ReplayBuffer(capacity, (3,))
    ids = list(ids)
    for start in range(0, len(ids), batch):
        rows = np.array(ids[start : start + batch])
        buffer.add(
            np.repeat(rows[:, None], 3, axis=1).astype(np.float32),
            rows,
            rows.astype(np.float32),
            -np.repeat(rows[:, None], 3, axis=1),
            rows % 2 == 1,
        )
    return buffer


def test_replay_buffer_holds_at_most_capacity(target):
    buffer = target.blocks.ReplayBuffer(4, (3,))
    assert len(buffer) == 0, f"a new ReplayBuffer(4, (3,)) has len {len(buffer)}, expected 0"
    buffer = filled_buffer(target, 4, range(3))
    assert len(buffer) == 3, f"after 3 transitions len(buffer) is {len(buffer)}, expected 3"
    buffer = filled_buffer(target, 4, range(10))
    assert len(buffer) == 4, (
        f"after 10 transitions into capacity 4, len(buffer) is {len(buffer)}, expected 4"
    )


def test_replay_buffer_overwrites_oldest_first(target):
    buffer = filled_buffer(target, 5, range(7))
    batch = buffer.sample(200, np.random.default_rng(0))
    stored = sorted(set(np.asarray(batch.actions).tolist()))
    assert stored == [2, 3, 4, 5, 6], (
        f"ReplayBuffer(5, (3,)) after adding transitions 0..6 one at a time holds {stored}, "
        "expected [2, 3, 4, 5, 6]: the two oldest are overwritten"
    )


def test_replay_buffer_adds_a_batch_across_the_end(target):
    # capacity 5; batches of 3: [0 1 2] then [3 4 | 5] wraps: slot 0 gets 5
    buffer = filled_buffer(target, 5, range(6), batch=3)
    assert len(buffer) == 5, f"len(buffer) is {len(buffer)}, expected 5"
    batch = buffer.sample(200, np.random.default_rng(1))
    stored = sorted(set(np.asarray(batch.actions).tolist()))
    assert stored == [1, 2, 3, 4, 5], (
        "ReplayBuffer(5, (3,)) after add() of a batch of 3 (transitions 0, 1, 2) and another "
        f"of 3 (3, 4, 5) holds {stored}, expected [1, 2, 3, 4, 5]: the second batch runs past "
        "the end, and its last row overwrites the oldest (slot 0)"
    )
    pairs = {
        (int(a), float(o[0]), float(r), float(n[0]), float(t))
        for a, o, r, n, t in zip(
            batch.actions, batch.obs, batch.rewards, batch.next_obs, batch.terminated, strict=True
        )
    }
    expected = {(i, float(i), float(i), -float(i), float(i % 2)) for i in range(1, 6)}
    assert pairs == expected, (
        "rows got mixed up: each sampled transition must keep its own obs, action, reward, "
        f"next_obs and terminated; got {sorted(pairs)}"
    )


@seeds(SEEDS)
def test_replay_buffer_samples_the_generators_indices(target, seed):
    rng = np.random.default_rng(seed)
    count = int(rng.integers(3, 12))
    buffer = filled_buffer(target, 8, range(count), batch=int(rng.integers(1, 4)))
    layout = {}
    for i in range(count):  # transition i goes to slot i % 8, later ones overwrite
        layout[i % 8] = i
    size = min(count, 8)
    expected = np.array(
        [layout[k] for k in np.random.default_rng(100 + seed).integers(0, size, size=16)]
    )
    batch = buffer.sample(16, np.random.default_rng(100 + seed))
    got = np.asarray(batch.actions)
    assert got.shape == (16,) and np.array_equal(got, expected), (
        f"called buffer.sample(16, np.random.default_rng({100 + seed})) on a buffer of "
        f"capacity 8 after {count} transitions returned actions {got.tolist()}, expected "
        f"{expected.tolist()}: draw "
        "the slots with rng.integers(0, len(self), size=batch_size) and return those slots' rows"
    )
    assert batch.obs.shape == (16, 3) and batch.obs.dtype == np.float32, (
        f"batch.obs has shape {batch.obs.shape} and dtype {batch.obs.dtype}, expected (16, 3) "
        "float32 (obs_shape (3,), default obs_dtype)"
    )
    assert np.asarray(batch.actions).dtype == np.int64, "discrete actions are stored as int64"


def test_replay_buffer_stores_continuous_actions(target):
    buffer = target.blocks.ReplayBuffer(4, (8,), action_shape=(2,), action_dtype=np.float32)
    actions = np.array([[0.5, -0.25], [1.0, 0.75]], dtype=np.float32)
    buffer.add(np.zeros((2, 8)), actions, np.ones(2), np.zeros((2, 8)), np.zeros(2))
    batch = buffer.sample(3, np.random.default_rng(0))
    slots = np.random.default_rng(0).integers(0, 2, size=3)
    got = np.asarray(batch.actions)
    assert (
        got.shape == (3, 2) and got.dtype == np.float32 and np.array_equal(got, actions[slots])
    ), (
        "ReplayBuffer(4, (8,), action_shape=(2,), action_dtype=np.float32): after adding two "
        f"2-D actions, sample(3) returned actions {got.tolist()} ({got.dtype}), expected "
        f"{actions[slots].tolist()} (float32)"
    )


EPSILON_CASES = [(0, 1.0), (25, 0.775), (50, 0.55), (100, 0.1), (250, 0.1)]


@pytest.mark.parametrize("step,expected", EPSILON_CASES, ids=[f"step{s}" for s, _ in EPSILON_CASES])
def test_linear_epsilon_hand_computed(target, step, expected):
    got = target.blocks.linear_epsilon(step, 1.0, 0.1, 100)
    assert isinstance(got, float) and math.isclose(got, expected, abs_tol=1e-12), (
        f"{called('linear_epsilon', step, 1.0, 0.1, 100)} returned {got!r}, expected {expected}: "
        "1.0 falls linearly to 0.1 over 100 steps, then stays at 0.1"
    )


# ============================================================================================
# DQN targets
# ============================================================================================


def as_array(result):
    return np.asarray(result.numpy() if hasattr(result, "numpy") else result)


def loop_td_targets(rewards, next_q, terminated, gamma):
    return np.array(
        [
            r + (0.0 if done else gamma * max(q))
            for r, q, done in zip(
                rewards.tolist(), next_q.tolist(), terminated.tolist(), strict=True
            )
        ]
    )


def loop_double_dqn_targets(rewards, online, target_q, terminated, gamma):
    out = []
    for r, qo, qt, done in zip(
        rewards.tolist(), online.tolist(), target_q.tolist(), terminated.tolist(), strict=True
    ):
        best = max(range(len(qo)), key=lambda a: qo[a])
        out.append(r + (0.0 if done else gamma * qt[best]))
    return np.array(out)


def test_td_targets_hand_computed(target):
    rewards = np.array([1.0, 0.0, -1.0])
    next_q = np.array([[2.0, 5.0], [3.0, 1.0], [4.0, 4.0]])
    terminated = np.array([0.0, 0.0, 1.0])
    got = as_array(target.blocks.td_targets(rewards, next_q, terminated, 0.9))
    expected = np.array([5.5, 2.7, -1.0])  # 1 + 0.9 * 5, 0 + 0.9 * 3, -1 (terminated)
    assert got.shape == (3,) and np.allclose(got, expected), (
        f"{called('td_targets', rewards, next_q, terminated, 0.9)} returned {got}, expected "
        f"{expected}: r + 0.9 * max_a next_q, without the second term where terminated"
    )


def test_td_targets_termination_stops_bootstrap_truncation_does_not(target):
    rewards, next_q = np.array([1.0, 1.0]), np.array([[10.0, 20.0], [10.0, 20.0]])
    # row 0 ended by a crash (terminated); row 1 by the time limit, stored as terminated=False
    terminated = np.array([True, False])
    got = as_array(target.blocks.td_targets(rewards, next_q, terminated, 0.5))
    assert got.shape == (2,) and np.allclose(got, [1.0, 11.0]), (
        f"{called('td_targets', rewards, next_q, terminated, 0.5)} returned {got}, expected "
        "[1, 11]: the terminated transition has no future; the truncated one was cut by the "
        "time limit while the lander still flew: it is passed as terminated=False and "
        "bootstraps"
    )


@seeds(SEEDS)
def test_td_targets_random_against_loop(target, seed):
    rng = np.random.default_rng(seed)
    rewards, next_q = rng.normal(size=7), rng.normal(size=(7, 4))
    terminated = rng.random(7) < 0.4
    got = as_array(target.blocks.td_targets(rewards, next_q, terminated, 0.97))
    expected = loop_td_targets(rewards, next_q, terminated, 0.97)
    assert got.shape == (7,) and np.allclose(got, expected, atol=1e-6), (
        f"{called('td_targets', rewards, next_q, terminated, 0.97)} returned {got}, a plain "
        f"loop gives {expected}"
    )


def test_double_dqn_targets_hand_computed(target):
    rewards, terminated = np.array([1.0, 2.0]), np.array([0.0, 0.0])
    online = np.array([[1.0, 3.0], [4.0, 0.0]])  # the online net prefers a=1, then a=0
    target_q = np.array([[6.0, 2.0], [1.0, 8.0]])  # the target net disagrees
    got = as_array(target.blocks.double_dqn_targets(rewards, online, target_q, terminated, 0.5))
    assert got.shape == (2,) and np.allclose(got, [2.0, 2.5]), (
        f"{called('double_dqn_targets', rewards, online, target_q, terminated, 0.5)} returned "
        f"{got}, expected [2, 2.5]: the online net picks each next action, the target net "
        "values it. Plain DQN would give [4, 6] (the max of the target net), which is what "
        "overestimates"
    )


@seeds(SEEDS)
def test_double_dqn_targets_random_against_loop(target, seed):
    rng = np.random.default_rng(seed)
    rewards, online, target_q = rng.normal(size=9), rng.normal(size=(9, 4)), rng.normal(size=(9, 4))
    terminated = (rng.random(9) < 0.3).astype(np.float64)
    got = as_array(target.blocks.double_dqn_targets(rewards, online, target_q, terminated, 0.9))
    expected = loop_double_dqn_targets(rewards, online, target_q, terminated, 0.9)
    assert got.shape == (9,) and np.allclose(got, expected, atol=1e-6), (
        f"{called('double_dqn_targets', rewards, online, target_q, terminated, 0.9)} returned "
        f"{got}, a plain loop gives {expected}"
    )


# ============================================================================================
# Returns and advantages
# ============================================================================================


def loop_returns(rewards, dones, gamma, last_value):
    rewards, dones = np.asarray(rewards, dtype=float), np.asarray(dones, dtype=float)
    out = np.zeros_like(rewards)
    for env in range(rewards.shape[1]):
        running = float(np.broadcast_to(last_value, rewards.shape[1:])[env])
        for t in reversed(range(rewards.shape[0])):
            running = rewards[t, env] + gamma * (1.0 - dones[t, env]) * running
            out[t, env] = running
    return out


def loop_gae(rewards, values, next_values, terminated, ends, gamma, lam):
    out = np.zeros(rewards.shape)
    for env in range(rewards.shape[1]):
        running = 0.0
        for t in reversed(range(rewards.shape[0])):
            delta = (
                rewards[t, env]
                + gamma * (1.0 - terminated[t, env]) * next_values[t, env]
                - values[t, env]
            )
            running = delta + gamma * lam * (1.0 - ends[t, env]) * running
            out[t, env] = running
    return out


def test_discounted_returns_hand_computed(target):
    rewards, dones = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 1.0, 0.0, 0.0])
    got = np.asarray(target.blocks.discounted_returns(rewards, dones, 0.5, last_value=8.0))
    expected = np.array([2.0, 2.0, 7.0, 8.0])
    assert got.shape == (4,) and np.allclose(got, expected), (
        f"{called('discounted_returns', rewards, dones, 0.5, last_value=8.0)} returned {got}, "
        f"expected {expected}: the docstring's backward sum, from last_value, restarts at every "
        "episode end: nothing of the next episode counts"
    )


@seeds(SEEDS)
def test_discounted_returns_random_against_loop(target, seed):
    rng = np.random.default_rng(seed)
    rewards, dones = rng.normal(size=(12, 3)), rng.random((12, 3)) < 0.2
    last_value = rng.normal(size=3)
    got = np.asarray(target.blocks.discounted_returns(rewards, dones, 0.9, last_value))
    expected = loop_returns(rewards, dones, 0.9, last_value)
    assert got.shape == (12, 3) and np.allclose(got, expected), (
        f"{called('discounted_returns', rewards, dones, 0.9, last_value)} with (T, n_envs) "
        f"inputs returned {got.shape}, values differing from a plain loop by up to "
        f"{np.max(np.abs(got - expected)) if got.shape == expected.shape else 'n/a'}"
    )


def test_gae_hand_computed(target):
    rewards = np.array([1.0, 1.0, 1.0, 1.0, 10.0])
    values = np.array([1.0, 2.0, 1.0, 2.0, 0.5])
    # step 1 is truncated (V of its true final observation is 4), step 3 terminated
    next_values = np.array([2.0, 4.0, 2.0, 7.0, 2.0])
    terminated = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    episode_ends = np.array([0.0, 1.0, 0.0, 1.0, 0.0])
    advantages, returns = target.blocks.gae(
        rewards, values, next_values, terminated, episode_ends, 0.5, 0.5
    )
    advantages, returns = np.asarray(advantages), np.asarray(returns)
    expected = np.array([1.25, 1.0, 0.75, -1.0, 10.5])
    assert advantages.shape == (5,) and np.allclose(advantages, expected), (
        f"{called('gae', rewards, values, next_values, terminated, episode_ends, 0.5, 0.5)} "
        f"returned advantages {advantages}, expected {expected}: step 1 was truncated, so its "
        "TD error still bootstraps, step 3 terminated, so its TD error does not; the sum of "
        "advantages stops at both episode ends (the docstring's two flags, two jobs)"
    )
    assert np.allclose(returns, expected + values), (
        f"gae returned returns {returns}, expected advantages + values = {expected + values}"
    )


@seeds(SEEDS)
def test_gae_random_against_loop(target, seed):
    rng = np.random.default_rng(seed)
    shape = (16, 4)
    rewards, values, next_values = (rng.normal(size=shape) for _ in range(3))
    terminated = rng.random(shape) < 0.1
    episode_ends = terminated | (rng.random(shape) < 0.1)  # some truncations too
    advantages, returns = target.blocks.gae(
        rewards, values, next_values, terminated, episode_ends, 0.99, 0.95
    )
    expected = loop_gae(rewards, values, next_values, terminated, episode_ends, 0.99, 0.95)
    advantages = np.asarray(advantages)
    assert advantages.shape == shape and np.allclose(advantages, expected), (
        f"{called('gae', rewards, values, next_values, terminated, episode_ends, 0.99, 0.95)} "
        f"returned advantages of shape {advantages.shape} that differ from a plain loop"
    )
    assert np.allclose(np.asarray(returns), expected + values), "returns != advantages + values"


def consistent_rollout(seed, shape=(10, 2)):
    """Values where next_values[t] = values[t + 1] inside an episode (no truncation)."""
    rng = np.random.default_rng(seed)
    rewards, values = rng.normal(size=shape), rng.normal(size=shape)
    terminated = rng.random(shape) < 0.2
    next_values = np.concatenate([values[1:], rng.normal(size=(1, shape[1]))])
    next_values[terminated] = rng.normal(size=int(terminated.sum()))  # never used
    return rewards, values, next_values, terminated


@seeds(SEEDS)
def test_gae_with_lambda_one_is_returns_minus_values(target, seed):
    rewards, values, next_values, terminated = consistent_rollout(seed)
    advantages, _ = target.blocks.gae(
        rewards, values, next_values, terminated, terminated, 0.9, 1.0
    )
    expected = loop_returns(rewards, terminated, 0.9, next_values[-1]) - values
    assert np.allclose(np.asarray(advantages), expected), (
        f"{called('gae', rewards, values, next_values, terminated, terminated, 0.9, 1.0)}: with "
        "lam = 1 and no truncation the TD errors telescope, so the advantages must equal the "
        "discounted returns (bootstrapped from the last next_value) minus the values; they "
        "do not"
    )


@seeds(SEEDS)
def test_gae_with_lambda_zero_is_the_one_step_td_error(target, seed):
    rewards, values, next_values, terminated = consistent_rollout(seed)
    advantages, _ = target.blocks.gae(
        rewards, values, next_values, terminated, terminated, 0.9, 0.0
    )
    expected = rewards + 0.9 * (1.0 - terminated) * next_values - values
    assert np.allclose(np.asarray(advantages), expected), (
        f"{called('gae', rewards, values, next_values, terminated, terminated, 0.9, 0.0)}: with "
        "lam = 0 each advantage is its one-step TD error r + gamma * (1 - terminated) * V(s') - "
        "V(s); they differ"
    )


# ============================================================================================
# PPO pieces
# ============================================================================================


def test_gaussian_log_prob_hand_computed(target):
    actions = np.array([[1.0, -1.0], [0.5, 2.0]])
    mean = np.array([[0.0, 0.0], [0.5, 0.0]])
    log_std = np.array([0.0, math.log(2.0)])  # sigma = (1, 2)
    got = as_array(target.blocks.gaussian_log_prob(actions, mean, log_std))
    # row 0: (-0.5 - 0.9189385) + (-0.125 - 0.6931472 - 0.9189385)
    # row 1: (0 - 0.9189385) + (-0.5 - 0.6931472 - 0.9189385)
    expected = np.array([-3.1560242469692907, -3.0310242469692907])
    assert got.shape == (2,) and np.allclose(got, expected), (
        f"{called('gaussian_log_prob', actions, mean, log_std)} returned {got}, expected "
        f"{expected}: per dimension -z^2 / 2 - log sigma - log(2 pi) / 2 with z = (a - mu) / "
        "sigma, summed over the action dimensions"
    )


@seeds(SEEDS)
def test_gaussian_log_prob_random_against_loop(target, seed):
    rng = np.random.default_rng(seed)
    actions, mean = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    log_std = rng.normal(scale=0.5, size=2)
    got = as_array(target.blocks.gaussian_log_prob(actions, mean, log_std))
    expected = []
    for a_row, m_row in zip(actions.tolist(), mean.tolist(), strict=True):
        total = 0.0
        for a, m, s in zip(a_row, m_row, np.exp(log_std).tolist(), strict=True):
            density = math.exp(-((a - m) ** 2) / (2 * s * s)) / (s * math.sqrt(2 * math.pi))
            total += math.log(density)
        expected.append(total)
    assert got.shape == (6,) and np.allclose(got, expected), (
        f"{called('gaussian_log_prob', actions, mean, log_std)} returned {got}, the log of the "
        f"normal density, multiplied over the dimensions, gives {np.array(expected)}"
    )


def test_ppo_clip_objective_hand_computed(target):
    old = np.array([0.2, -0.1, 0.0, 1.0])
    new = old + np.log([1.5, 0.5, 1.1, 1.5])  # ratios 1.5, 0.5, 1.1, 1.5
    advantages = np.array([2.0, -1.0, 3.0, -2.0])
    got = float(as_array(target.blocks.ppo_clip_objective(new, old, advantages, 0.2)))
    # min(3, 1.2 * 2) = 2.4; min(-0.5, 0.8 * -1) = -0.8; 1.1 * 3 = 3.3 (inside the range);
    # min(1.5 * -2, 1.2 * -2) = -3 (a bad action made more likely is never clipped)
    assert math.isclose(got, 0.475, abs_tol=1e-6), (
        f"{called('ppo_clip_objective', new, old, advantages, 0.2)} returned {got}, expected "
        "0.475: the mean over the batch of the smaller of ratio * A and "
        "clip(ratio, 0.8, 1.2) * A, sample by sample"
    )


@seeds(SEEDS)
def test_ppo_clip_objective_random_against_loop(target, seed):
    rng = np.random.default_rng(seed)
    old = rng.normal(size=20)
    new = old + rng.normal(scale=0.3, size=20)
    advantages = rng.normal(size=20)
    got = float(as_array(target.blocks.ppo_clip_objective(new, old, advantages, 0.1)))
    terms = []
    for n, o, a in zip(new.tolist(), old.tolist(), advantages.tolist(), strict=True):
        ratio = math.exp(n - o)
        terms.append(min(ratio * a, min(max(ratio, 0.9), 1.1) * a))
    expected = sum(terms) / len(terms)
    assert math.isclose(got, expected, abs_tol=1e-6), (
        f"{called('ppo_clip_objective', new, old, advantages, 0.1)} returned {got}, a "
        f"per-sample loop gives {expected}"
    )


# ============================================================================================
# The TensorFlow blocks inside a compiled step
# ============================================================================================


def tf_cases(rng):
    f32 = np.float32
    return {
        "td_targets": (
            rng.normal(size=5).astype(f32),
            rng.normal(size=(5, 4)).astype(f32),
            (rng.random(5) < 0.5).astype(f32),
            0.99,
        ),
        "double_dqn_targets": (
            rng.normal(size=5).astype(f32),
            rng.normal(size=(5, 4)).astype(f32),
            rng.normal(size=(5, 4)).astype(f32),
            (rng.random(5) < 0.5).astype(f32),
            0.99,
        ),
        "gaussian_log_prob": (
            rng.normal(size=(5, 2)).astype(f32),
            rng.normal(size=(5, 2)).astype(f32),
            rng.normal(size=2).astype(f32),
        ),
        "ppo_clip_objective": (
            rng.normal(size=5).astype(f32),
            rng.normal(size=5).astype(f32),
            rng.normal(size=5).astype(f32),
            0.2,
        ),
    }


TF_BLOCKS = ["td_targets", "double_dqn_targets", "gaussian_log_prob", "ppo_clip_objective"]


@pytest.mark.parametrize("name", TF_BLOCKS)
def test_tensorflow_blocks_run_inside_tf_function(target, tf, name):
    args = tf_cases(np.random.default_rng(5))[name]
    function = getattr(target.blocks, name)
    eager = as_array(function(*args))
    tensors = [tf.constant(a) if isinstance(a, np.ndarray) else a for a in args]
    compiled = tf.function(function)(*tensors)
    assert isinstance(compiled, tf.Tensor) and compiled.dtype == tf.float32, (
        f"{name} inside tf.function, called with float32 tensors, returned "
        f"{type(compiled).__name__} {getattr(compiled, 'dtype', '')}; expected a float32 tensor: "
        "use TensorFlow ops (the training step is compiled into a graph)"
    )
    assert compiled.shape == eager.shape and np.allclose(compiled.numpy(), eager, atol=1e-5), (
        f"{name} gives {compiled.numpy()} inside tf.function and {eager} eagerly on the same inputs"
    )
