"""Question 19, part 1: the Lunar Lander MDP, how the two environments differ, which algorithm.

Describe gymnasium's `LunarLander-v3` (discrete) and `LunarLanderContinuous-v3` as data: fill in
`OBSERVATION`, `REWARD` and `DISCRETE` with the dataclasses below, and write `CONTINUOUS` as
`DISCRETE` with the fields that differ replaced (`dataclasses.replace`). The tests compare every
field that the environment can confirm with what `gymnasium.make(...)` reports, or with what
stepping the environment shows (the reward is rebuilt from your description, step by step).
Find the facts in gymnasium's documentation of Lunar Lander or in its source
(`gymnasium/envs/box2d/lunar_lander.py`). Then implement `choose_algorithm` and write `ANSWERS`,
short answers of your own to the three parts of the question.
"""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ObservationVariable:
    """One entry of the observation vector."""

    index: int
    """position in the vector, 0 to 7"""
    name: str
    """a short name, e.g. 'x' or 'angle'"""
    meaning: str
    """what it measures, in which units or scale"""
    low: float
    """lower bound of the observation space for this entry"""
    high: float
    """upper bound of the observation space for this entry"""


@dataclass(frozen=True)
class DiscreteAction:
    """One of the discrete environment's actions."""

    index: int
    """the integer passed to env.step"""
    engine: str
    """which engine fires: 'none', 'left', 'main' or 'right' (as gymnasium names them)"""
    effect: str
    """what it does to the lander"""


@dataclass(frozen=True)
class EngineControl:
    """One dimension of the continuous environment's action vector."""

    index: int
    """position in the action vector"""
    engine: str
    """'main' or 'lateral'"""
    low: float
    """lower bound of the action space for this dimension"""
    high: float
    """upper bound of the action space for this dimension"""
    off: tuple[float, float]
    """the closed interval of values for which the engine does not fire at all (its dead zone)"""
    min_throttle: float
    """the throttle just outside the dead zone (a fraction of full power)"""
    max_throttle: float
    """the throttle at the bound(s) of the action space; in between it grows linearly"""
    meaning: str
    """what the value controls"""


@dataclass(frozen=True)
class RewardModel:
    """How the reward of one step is made up.

    Each step pays the change of a *shaping potential*,
    `potential(s') - potential(s)` with
    `potential(s) = distance_weight * |(x, y)| + speed_weight * |(vx, vy)| + tilt_weight * |angle|
    + leg_contact_bonus * (number of legs touching the ground)`,
    minus the fuel burnt in that frame: `main_engine_cost` and `side_engine_cost` at full throttle,
    proportionally less at lower throttle. On the step that ends the episode the reward is
    `crash_reward` (crash or out of view) or `rest_reward` (the lander came to rest) instead.
    """

    distance_weight: float
    """weight of the distance to the pad centre in the potential"""
    speed_weight: float
    """weight of the speed in the potential"""
    tilt_weight: float
    """weight of the absolute angle in the potential"""
    leg_contact_bonus: float
    """potential gained per leg touching the ground (lost again if it lifts off)"""
    main_engine_cost: float
    """reward subtracted per frame of the main engine at full throttle (a positive number)"""
    side_engine_cost: float
    """reward subtracted per frame of a side engine at full throttle (a positive number)"""
    crash_reward: float
    """the reward of a step that ends in a crash or out of view"""
    rest_reward: float
    """the reward of a step that ends with the lander at rest"""


@dataclass(frozen=True)
class LunarLanderMDP:
    """One Lunar Lander environment as a Markov decision process."""

    env_id: str
    """the gymnasium id"""
    observation_shape: tuple[int, ...]
    """shape of one observation"""
    observation: tuple[ObservationVariable, ...]
    """the entries of the observation vector, in order"""
    action_kind: str
    """'discrete' or 'continuous'"""
    action_shape: tuple[int, ...]
    """shape of one action: () for a discrete action"""
    actions: tuple
    """a DiscreteAction per action (discrete) or an EngineControl per dimension (continuous)"""
    reward: RewardModel
    """how the reward is made up"""
    start: str
    """how an episode starts"""
    transition: str
    """what moves the state from one step to the next, and where the randomness comes from"""
    terminates_when: tuple[str, ...]
    """the conditions that end the MDP itself (termination)"""
    max_episode_steps: int
    """the time limit after which the episode is cut off (truncation)"""
    solved_threshold: float
    """the mean return over 100 episodes at which the environment counts as solved"""


OBSERVATION = (
    # one ObservationVariable(index, name, meaning, low, high) per entry, in order, e.g.
    ObservationVariable(0, "x", "...", low=None, high=None),
)

REWARD = RewardModel(
    distance_weight=None,
    speed_weight=None,
    tilt_weight=None,
    leg_contact_bonus=None,
    main_engine_cost=None,
    side_engine_cost=None,
    crash_reward=None,
    rest_reward=None,
)

START = None
TRANSITION = None
TERMINATES_WHEN = ()  # one short sentence per condition

DISCRETE = LunarLanderMDP(
    env_id="LunarLander-v3",
    observation_shape=None,
    observation=OBSERVATION,
    action_kind=None,
    action_shape=None,
    actions=(),  # one DiscreteAction(index, engine, effect) per action
    reward=REWARD,
    start=START,
    transition=TRANSITION,
    terminates_when=TERMINATES_WHEN,
    max_episode_steps=None,
    solved_threshold=None,
)

CONTINUOUS = replace(
    DISCRETE,  # every field not named here is DISCRETE's: name the ones that differ
    env_id="LunarLanderContinuous-v3",
    # actions=(...),  one EngineControl(index, engine, low, high, off, ...) per dimension
)

MDPS = {"LunarLander-v3": DISCRETE, "LunarLanderContinuous-v3": CONTINUOUS}


def choose_algorithm(env_id):
    """The algorithm to train on `env_id`: "dqn" or the lowercase name of a policy-gradient method.

    `LunarLander-v3` has 4 actions: a Q-network outputs one value per action, the greedy action
    and the target `max_a Q(s', a)` are a max over 4 numbers, and learning from a replay buffer
    reuses every transition many times. `LunarLanderContinuous-v3` has a continuous 2-D action:
    there is no finite list of actions to output a value for, and `max_a Q(s, a)` over the
    infinitely many actions in [-1, 1]^2 would be an optimisation problem at every step. A
    policy-gradient method (e.g. PPO) outputs the parameters of a distribution over actions
    (the mean and standard deviation of a Gaussian) and samples from it, so it never takes that
    max. Raises ValueError for any other id.
    """
    raise NotImplementedError("value-based for finite actions, policy gradient for continuous")


@dataclass(frozen=True)
class ExamAnswers:
    """Short answers, in your own words, to the three parts of question 19."""

    mdp: str
    """1. the MDP of LunarLander-v3: states, actions, transitions, reward, episode ends, discount"""
    difference: str
    """2. how the MDP of LunarLanderContinuous-v3 differs from it"""
    algorithm: str
    """3. DQN or policy gradients for each environment, and why the choice may differ"""


ANSWERS = ExamAnswers(mdp=None, difference=None, algorithm=None)
