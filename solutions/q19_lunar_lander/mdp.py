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


# BEGIN SOLUTION: describe the 8 entries of the observation vector (shared by both environments)
# HINT: Let gymnasium tell you before you read anything: print
#   `gymnasium.make(...).observation_space` and its `low` and `high`; they give the shape and both
#   bounds of every entry, in order.
# HINT: The meaning of each entry is in the docstring of `LunarLander` in
#   `gymnasium/envs/box2d/lunar_lander.py`, and in the `state` list that `step` builds: position,
#   velocity, angle, turn rate, then the leg flags. Copy the bounds as floats from the space itself;
#   the angle's bound is not a round number.
# HINT: The last entries are contact flags, so their bounds are those of a flag, not the wide ones
#   the other entries share.
OBSERVATION = (
    ObservationVariable(
        0, "x", "horizontal position; 0 is the pad centre, +-1 the edges of the view", -2.5, 2.5
    ),
    ObservationVariable(
        1,
        "y",
        "height; 0 is about the pad's level with the legs standing on it, "
        "the lander starts near 1.4",
        -2.5,
        2.5,
    ),
    ObservationVariable(2, "vx", "horizontal velocity (scaled)", -10.0, 10.0),
    ObservationVariable(3, "vy", "vertical velocity (scaled), negative when falling", -10.0, 10.0),
    ObservationVariable(
        4, "angle", "tilt in radians, 0 upright, positive counter-clockwise", -6.2831855, 6.2831855
    ),
    ObservationVariable(
        5, "angular_velocity", "turn rate, 0.4 times radians per second", -10.0, 10.0
    ),
    ObservationVariable(
        6,
        "right_leg_contact",
        "1.0 while the leg on the +x side (right on screen) touches the ground, else 0.0",
        0.0,
        1.0,
    ),
    ObservationVariable(
        7,
        "left_leg_contact",
        "1.0 while the leg on the -x side (left on screen) touches the ground, else 0.0",
        0.0,
        1.0,
    ),
)
# STUB: OBSERVATION = (
# STUB:     # one ObservationVariable(index, name, meaning, low, high) per entry, in order, e.g.
# STUB:     ObservationVariable(0, "x", "...", low=None, high=None),
# STUB: )
# END SOLUTION

# BEGIN SOLUTION: say how the reward of a step is made up (same rules in both environments)
# HINT: Everything is in `LunarLander.step`, after the physics: find where it computes `shaping`,
#   where it subtracts the fuel, and where it overwrites the reward when it sets `terminated`.
# HINT: Read the weights off the `shaping` expression with their signs: distance, speed and tilt are
#   penalised, so those weights are negative, and every leg on the ground adds a bonus. Fuel is
#   `m_power` and `s_power` times a constant each; enter those constants as positive costs.
# HINT: A crash and a rest replace the reward of that step outright, they are not added to it. To
#   check a number, step the discrete environment once and compare the reward with the change of
#   `env.unwrapped.prev_shaping`: the difference is the fuel.
REWARD = RewardModel(
    distance_weight=-100.0,
    speed_weight=-100.0,
    tilt_weight=-100.0,
    leg_contact_bonus=10.0,
    main_engine_cost=0.3,
    side_engine_cost=0.03,
    crash_reward=-100.0,
    rest_reward=100.0,
)
# STUB: REWARD = RewardModel(
# STUB:     distance_weight=None,
# STUB:     speed_weight=None,
# STUB:     tilt_weight=None,
# STUB:     leg_contact_bonus=None,
# STUB:     main_engine_cost=None,
# STUB:     side_engine_cost=None,
# STUB:     crash_reward=None,
# STUB:     rest_reward=None,
# STUB: )
# END SOLUTION

# BEGIN SOLUTION: say how an episode starts, what moves the state, and what ends the MDP
# HINT: Read `reset` for the start (where the lander appears, what pushes it, how the terrain is
#   made) and `step` for what moves it; every use of `self.np_random` is a source of randomness.
# HINT: For the ends, find every line of `step` that sets `terminated`: one is about the body
#   touching the ground (`game_over`, set by the contact detector), one about the x position, one
#   about whether Box2D still keeps the body awake. The time limit is not one of them: it is a
#   truncation, added by a wrapper.
START = (
    "the lander appears at the top centre of the view and is pushed by a random force; "
    "the terrain heights are random except for the flat pad at the centre"
)
TRANSITION = (
    "Box2D physics at 50 frames per second: gravity, the chosen engine impulses, "
    "contacts with the ground; a random dispersion of every engine impulse makes it "
    "stochastic"
)
TERMINATES_WHEN = (
    "the lander's body touches the ground (a crash)",
    "the lander leaves the view: |x| >= 1",
    "the lander has come to rest (Box2D puts its body to sleep)",
)
# STUB: START = None
# STUB: TRANSITION = None
# STUB: TERMINATES_WHEN = ()  # one short sentence per condition
# END SOLUTION

# BEGIN SOLUTION: describe the discrete environment LunarLander-v3
# HINT: Start from `gymnasium.make("LunarLander-v3")`: its `observation_space`, `action_space` and
#   `spec` hold the shapes, the number of actions, the cut-off in steps and the solved threshold.
# HINT: A `Discrete` space's action is a single integer, so its shape is the empty tuple. The order
#   of the actions is in the class docstring (and in `step`, where the action picks the engine);
#   name the engines as gymnasium does.
# HINT: Take `spec.max_episode_steps` and `spec.reward_threshold` as they are. To check an effect,
#   step one action a few times from a seed and compare the velocities with doing nothing.
DISCRETE = LunarLanderMDP(
    env_id="LunarLander-v3",
    observation_shape=(8,),
    observation=OBSERVATION,
    action_kind="discrete",
    action_shape=(),
    actions=(
        DiscreteAction(0, "none", "no engine fires; the lander falls and drifts"),
        DiscreteAction(
            1,
            "left",
            "the left orientation engine fires: the lander turns "
            "counter-clockwise and is pushed to the left",
        ),
        DiscreteAction(
            2,
            "main",
            "the main engine fires at full power: thrust along the lander's "
            "axis, upwards when upright",
        ),
        DiscreteAction(
            3,
            "right",
            "the right orientation engine fires: the lander turns "
            "clockwise and is pushed to the right",
        ),
    ),
    reward=REWARD,
    start=START,
    transition=TRANSITION,
    terminates_when=TERMINATES_WHEN,
    max_episode_steps=1000,
    solved_threshold=200.0,
)
# STUB: DISCRETE = LunarLanderMDP(
# STUB:     env_id="LunarLander-v3",
# STUB:     observation_shape=None,
# STUB:     observation=OBSERVATION,
# STUB:     action_kind=None,
# STUB:     action_shape=None,
# STUB:     actions=(),  # one DiscreteAction(index, engine, effect) per action
# STUB:     reward=REWARD,
# STUB:     start=START,
# STUB:     transition=TRANSITION,
# STUB:     terminates_when=TERMINATES_WHEN,
# STUB:     max_episode_steps=None,
# STUB:     solved_threshold=None,
# STUB: )
# END SOLUTION

# BEGIN SOLUTION: describe the continuous environment LunarLanderContinuous-v3 by what differs
# HINT: Ask `gymnasium.make("LunarLanderContinuous-v3")` the questions you asked of the discrete
#   twin, and keep what it answers the same: `dataclasses.replace(DISCRETE, ...)` takes every field
#   you do not name from DISCRETE. Its `action_space` is a `Box`, whose shape, low and high give the
#   dimensions and their bounds.
# HINT: The dead zones and throttles are in `step`, where `m_power` and `s_power` are computed from
#   the action: see for which values each engine stays off and how the rest of the range maps to
#   power. The main engine and the side engines do not share the same dead zone.
# HINT: Measure instead of guessing: the change of `env.unwrapped.prev_shaping` minus the reward is
#   the fuel charged, and divided by the full-throttle cost it is the throttle. Try values just past
#   a dead zone and at the bounds.
CONTINUOUS = replace(
    DISCRETE,  # the same states, physics, reward, episode ends, time limit and threshold
    env_id="LunarLanderContinuous-v3",
    action_kind="continuous",
    action_shape=(2,),
    actions=tuple(  # both in [-1, 1]: off in a dead zone, 50% to 100% throttle beyond it
        EngineControl(i, engine, -1.0, 1.0, off, min_throttle=0.5, max_throttle=1.0, meaning=text)
        for i, (engine, off, text) in enumerate(
            [
                (
                    "main",
                    (-1.0, 0.0),
                    "main engine: off for values <= 0; from just above 0 to 1 the "
                    "throttle rises linearly from 50% to 100%",
                ),
                (
                    "lateral",
                    (-0.5, 0.5),
                    "side engines: off in [-0.5, 0.5]; below -0.5 the left engine, "
                    "above 0.5 the right engine fires, 50% to 100% as |value| goes to 1",
                ),
            ]
        )
    ),
)
# STUB: CONTINUOUS = replace(
# STUB:     DISCRETE,  # every field not named here is DISCRETE's: name the ones that differ
# STUB:     env_id="LunarLanderContinuous-v3",
# STUB:     # actions=(...),  one EngineControl(index, engine, low, high, off, ...) per dimension
# STUB: )
# END SOLUTION

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
    # BEGIN SOLUTION: value-based for finite actions, policy gradient for continuous
    # HINT: What does DQN need in order to act and to build its target? A max over all actions. Ask
    #   whether that is cheap in each of the two action spaces.
    # HINT: Print `gymnasium.make(env_id).action_space` for both ids: a finite `Discrete` space lets
    #   a network output one value per action, a `Box` of floats has no such list. The docstring
    #   names what to return in either case.
    # HINT: Map each known id to its lowercase name (a dict lookup does it) and raise `ValueError`
    #   for any other id, such as `CartPole-v1`.
    algorithms = {"LunarLander-v3": "dqn", "LunarLanderContinuous-v3": "ppo"}
    if env_id not in algorithms:
        raise ValueError(f"unknown environment {env_id!r}; expected one of {sorted(algorithms)}")
    return algorithms[env_id]
    # END SOLUTION


@dataclass(frozen=True)
class ExamAnswers:
    """Short answers, in your own words, to the three parts of question 19."""

    mdp: str
    """1. the MDP of LunarLander-v3: states, actions, transitions, reward, episode ends, discount"""
    difference: str
    """2. how the MDP of LunarLanderContinuous-v3 differs from it"""
    algorithm: str
    """3. DQN or policy gradients for each environment, and why the choice may differ"""


# BEGIN SOLUTION: answer the three parts of the question in a few sentences each
# HINT: Answer from what you filled in above: the observation, the actions, the reward model, how
#   episodes start, move and end.
# HINT: For the MDP, name the states, the actions, the transitions and their randomness, the reward,
#   the ends (termination and truncation apart) and the discount, which the environment does not
#   fix. For the difference, compare `DISCRETE` and `CONTINUOUS` field by field.
# HINT: For the algorithm, say for each environment whether DQN or a policy-gradient method fits,
#   and why: what DQN's max over actions costs in each action space. Write a few full sentences per
#   part, using the plain words of the question (states, actions, reward, continuous, policy).
ANSWERS = ExamAnswers(
    mdp=(
        "States: an 8-dimensional vector (position x, y relative to the pad, velocities vx, vy, "
        "angle, angular velocity, and one contact flag per leg). Actions: 4 discrete ones - do "
        "nothing, fire the left orientation engine, the main engine, the right orientation "
        "engine. Transitions: Box2D physics, stochastic through random terrain, a random initial "
        "push and random engine dispersion. Reward: the change of a shaping potential that "
        "penalises distance from the pad, speed and tilt and gives +10 per leg on the ground, "
        "minus fuel (0.3 per frame for the main engine, 0.03 for a side engine); a crash or "
        "leaving the view gives -100 and ends the episode, coming to rest gives +100 and ends it. "
        "Episodes are cut off after 1000 steps. The discount factor is not part of the "
        "environment; agents use about 0.99. Solved at a mean return of 200."
    ),
    difference=(
        "Only the action space differs (and with it how actions enter transitions and reward): "
        "the continuous version takes a 2-D vector in [-1, 1]^2, a throttle for the main engine "
        "(off at or below 0, 50% to 100% above) and for the side engines (off in [-0.5, 0.5], "
        "left below, right above, 50% to 100% beyond), so thrust and fuel cost scale with the "
        "throttle instead of being all or nothing. States, physics, the shaping of the reward, "
        "the episode ends, the time limit and the threshold of 200 are the same."
    ),
    algorithm=(
        "LunarLander-v3: DQN. With 4 actions the Q-network outputs one value per action, the "
        "greedy action and the target max_a Q(s', a) are cheap, and replaying old transitions "
        "makes it sample-efficient (policy gradients work too). LunarLanderContinuous-v3: a "
        "policy-gradient method such as PPO. DQN needs max_a Q(s, a), which over a continuous "
        "action set is an optimisation at every step; a policy network outputs a Gaussian over "
        "the two throttles instead and is trained directly on the expected return. "
        "Discretising the throttles would give up fine control and grow exponentially with the "
        "number of action dimensions."
    ),
)
# STUB: ANSWERS = ExamAnswers(mdp=None, difference=None, algorithm=None)
# END SOLUTION
