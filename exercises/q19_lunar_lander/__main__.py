"""Train, evaluate and watch the Lunar Lander agents from the command line.

    python -m exercises.q19_lunar_lander train --algo dqn --env LunarLander-v3 --out runs/dqn
    python -m exercises.q19_lunar_lander evaluate --algo dqn --env LunarLander-v3 --out runs/dqn
    python -m exercises.q19_lunar_lander watch --algo ppo --out runs/ppo

(`python -m solutions.q19_lunar_lander ...` runs the reference the same way.)

`train` trains (a progress bar on stderr), saves the weights, the learning curve
(`learning_curve.png`) and one evaluation episode (`episode.gif`) into --out, and prints the mean
return over --episodes evaluation episodes. `evaluate` and `watch` load the weights saved there:
`evaluate` prints the evaluation, `watch` writes a new GIF. `sweep` trains once per --seeds and
prints a table of steps, seconds and evaluations (how the test budgets were chosen).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out

ALGOS = ("dqn", "ppo")
ENVS = ("LunarLander-v3", "LunarLanderContinuous-v3")


def _module(algo):
    from . import dqn, ppo

    return {"dqn": dqn, "ppo": ppo}[algo]


def _build_policy(algo, env_id, directory):
    """Rebuild the policy saved in `directory` by `train`."""
    import gymnasium as gym
    import keras

    directory = Path(directory)
    if algo == "dqn":
        from .dqn import GreedyPolicy

        return GreedyPolicy(keras.models.load_model(directory / "dqn.keras"))
    from .ppo import PPOPolicy

    saved = json.loads((directory / "config.json").read_text())
    env = gym.make(env_id)
    policy = PPOPolicy(env.observation_space.shape[0], env.action_space, tuple(saved["hidden"]))
    env.close()
    return policy.load(directory)


def save_policy(algo, policy, directory):
    """Write the policy's weights into `directory`."""
    if algo == "dqn":
        policy.q_network.save(Path(directory) / "dqn.keras")
    else:
        policy.save(directory)


def plot_learning_curve(curve, path, title, evaluations=(), threshold=200.0, window=20):
    """Save the training episodes' returns against environment steps, with a moving average and
    the in-training evaluations of the deterministic policy, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([s for s, _ in curve], dtype=float)
    returns = np.array([r for _, r in curve], dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(steps, returns, ".", alpha=0.35, markersize=4, label="episode return")
    if len(returns) >= window:
        smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], smooth, label=f"mean of the last {window}")
    if len(evaluations):
        ax.plot([s for s, _ in evaluations], [m for _, m in evaluations], "s-", color="black",
                markersize=5, label="evaluation (deterministic policy)")
    ax.axhline(threshold, color="green", linestyle="--", label=f"solved ({threshold:g})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return")
    ax.set_ylim(max(-600, returns.min() - 20) if len(returns) else -600, 330)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def record_gif(policy, env_id, path, seed, fps=30, every=2):
    """Play one episode with the deterministic policy and save every `every`-th frame as a GIF.
    Returns the episode's return."""
    import gymnasium as gym
    from PIL import Image

    from .dqn import EVAL_SEED_OFFSET

    env = gym.make(env_id, render_mode="rgb_array")
    obs, _ = env.reset(seed=EVAL_SEED_OFFSET + seed)
    frames, total, done, t = [env.render()], 0.0, False, 0
    while not done:
        action = policy(obs[None])[0]
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = terminated or truncated
        t += 1
        if t % every == 0 or done:
            frames.append(env.render())
    env.close()
    images = [Image.fromarray(f).convert("P", palette=Image.Palette.ADAPTIVE) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 * every / fps),
                   loop=0)
    return total


def sweep(module, env_id, steps, seeds, episodes):
    """Train once per seed and print a Markdown table: steps, seconds, evaluation, verdict."""
    print(f"| seed | steps | train s | eval mean +- std ({episodes} ep) | solved |")
    print("|---|---|---|---|---|")
    solved = 0
    for seed in seeds:
        config = module.Config(env_id=env_id, seed=seed)
        if steps is not None:
            config = dataclasses.replace(config, total_steps=steps)
        result = module.train(config, progress=False)
        returns = module.evaluate(result.policy, env_id, episodes, seed=seed)
        solved += returns.mean() >= 200
        print(f"| {seed} | {result.steps} | {result.seconds:.1f} | {returns.mean():.1f} +- "
              f"{returns.std():.1f} | {'yes' if returns.mean() >= 200 else 'NO'} |", flush=True)
    print(f"\nsolved {solved} of {len(seeds)} seeds")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("train", "evaluate", "watch", "sweep"))
    parser.add_argument("--algo", choices=ALGOS, default="dqn")
    parser.add_argument("--env", choices=ENVS, default=None,
                        help="default: LunarLander-v3 for dqn, LunarLanderContinuous-v3 for ppo")
    parser.add_argument("--steps", type=int, default=None, help="training budget (env steps)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5],
                        help="sweep: the training seeds to run one after the other")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes")
    parser.add_argument("--out", default="runs/q19", help="folder for weights, PNG and GIF")
    args = parser.parse_args(argv)

    env_id = args.env or ("LunarLander-v3" if args.algo == "dqn" else "LunarLanderContinuous-v3")
    if args.algo == "dqn" and env_id != "LunarLander-v3":
        parser.error("DQN needs discrete actions: use --env LunarLander-v3")
    module = _module(args.algo)
    if args.command == "sweep":
        return sweep(module, env_id, args.steps, args.seeds, args.episodes)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.command == "train":
        config = module.Config(env_id=env_id, seed=args.seed)
        if args.steps is not None:
            config = dataclasses.replace(config, total_steps=args.steps)
        result = module.train(config, progress=True)
        policy = result.policy
        save_policy(args.algo, policy, out)
        (out / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
        (out / "learning_curve.json").write_text(json.dumps(
            {"curve": result.curve, "evaluations": result.evaluations,
             "steps": result.steps, "seconds": result.seconds}))
        plot_learning_curve(result.curve, out / "learning_curve.png",
                            f"{args.algo.upper()} on {env_id}, seed {args.seed}",
                            evaluations=result.evaluations)
        print(f"trained {result.steps} steps in {result.seconds:.1f} s "
              f"({result.steps / result.seconds:.0f} steps/s)")
    else:
        policy = _build_policy(args.algo, env_id, out)

    if args.command in ("train", "evaluate"):
        returns = module.evaluate(policy, env_id, args.episodes, seed=args.seed)
        verdict = "solved" if returns.mean() >= 200 else "not solved"
        print(f"evaluation over {args.episodes} episodes: {returns.mean():.1f} "
              f"+- {returns.std():.1f} ({verdict}; the threshold is 200)")
    if args.command in ("train", "watch"):
        total = record_gif(policy, env_id, out / "episode.gif", seed=args.seed)
        print(f"wrote {out / 'episode.gif'} (return {total:.1f})"
              + (f" and {out / 'learning_curve.png'}" if args.command == "train" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
