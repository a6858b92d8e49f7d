"""Question 19: Lunar Lander, from the MDP to agents that land.

The exam points at two environments, known today as gymnasium's `LunarLander-v3` (4 discrete
actions) and `LunarLanderContinuous-v3` (a 2-D continuous action), and asks three things: describe
the Markov decision process of the discrete one, say how the continuous one differs as an MDP,
and choose between DQN and policy gradients for each, with reasons. This package turns the
answers into code, in the order to work through it:

1. `mdp.py`: both MDPs as data (what the 8 observed values mean and their bounds, what each
   action does, how the reward is made up, when an episode terminates and when it is truncated,
   the score that counts as solved), `choose_algorithm(env_id)`, and short written answers to the
   three parts. The tests check every field the environments can confirm.
2. `blocks.py`: the building blocks, each with exact-number tests: a replay buffer, the epsilon
   schedule, DQN and Double DQN targets (termination stops the bootstrap, truncation does not),
   discounted returns and generalized advantage estimation, the log-probability of a Gaussian
   policy, and the clipped PPO objective.
3. `dqn.py` and `ppo.py`: the agents built from those blocks, a DQN for `LunarLander-v3` and a
   PPO agent for `LunarLanderContinuous-v3`, trained until they land (a mean return of 200).
   What both share (seeding, evaluation, the progress bar) is given code in `common.py`: read
   it, nothing to implement there.

Train, evaluate and watch an agent (learning curve as PNG, one landing as GIF):

    python -m solutions.q19_lunar_lander --help    # the reference
    python -m exercises.q19_lunar_lander --help    # your version
"""
