"""Train, evaluate and watch the Lunar Lander agents from the command line.

    python -m exercises.q19_lunar_lander train --algo dqn --out runs/dqn
    python -m exercises.q19_lunar_lander evaluate --algo dqn --out runs/dqn
    python -m exercises.q19_lunar_lander watch --algo ppo --out runs/ppo

(`python -m solutions.q19_lunar_lander ...` runs the reference the same way.)

`train` trains (a progress bar on stderr), saves the model (`dqn.keras` or `ppo.keras`), the
learning curve (`learning_curve.png`) and one evaluation episode (`episode.gif`) into --out, and
prints the mean return over --episodes evaluation episodes. `evaluate` and `watch` load the model
saved there: `evaluate` prints the evaluation, `watch` writes a new GIF.

`--set name=value` changes a field of the agent's Config (`--set hidden=64,64`,
`--set evaluation=none`, `--set evaluation.stop_return=230`); `--threads` and `--onednn` change
TensorFlow's floating-point path.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

from .common import SOLVED_RETURN as SOLVED

ALGOS = ("dqn", "ppo")
ENVS = ("LunarLander-v3", "LunarLanderContinuous-v3")
DEFAULT_ENV = {"dqn": "LunarLander-v3", "ppo": "LunarLanderContinuous-v3"}


def _module(algo):
    """The agent's module, imported after TensorFlow was imported quietly."""
    from .common import import_tensorflow_quietly

    import_tensorflow_quietly()
    if algo == "dqn":
        from . import dqn

        return dqn
    from . import ppo

    return ppo


def model_path(algo, directory):
    return Path(directory) / f"{algo}.keras"


def load_policy(algo, directory):
    """The policy that `train` saved in `directory`."""
    import keras

    module = _module(algo)
    if algo == "dqn":
        return module.GreedyPolicy(keras.models.load_model(model_path(algo, directory)))
    return keras.models.load_model(
        model_path(algo, directory), custom_objects={"PPOPolicy": module.PPOPolicy}
    )


def save_policy(algo, policy, directory):
    """Write the policy's model into `directory`."""
    model = policy.q_network if algo == "dqn" else policy
    model.save(model_path(algo, directory))


def plot_learning_curve(curve, path, title, evaluations=(), threshold=SOLVED, window=20):
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
        ax.plot(steps[window - 1 :], smooth, label=f"mean of the last {window}")
    if len(evaluations):
        ax.plot(
            [e[0] for e in evaluations],
            [e[1] for e in evaluations],
            "s-",
            color="black",
            markersize=5,
            label="evaluation (deterministic policy)",
        )
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

    from .common import EVAL_SEED_OFFSET, as_numpy_policy

    act = as_numpy_policy(policy)
    env = gym.make(env_id, render_mode="rgb_array")
    obs, _ = env.reset(seed=EVAL_SEED_OFFSET + seed)
    frames, total, done, t = [env.render()], 0.0, False, 0
    while not done:
        obs, reward, terminated, truncated, _ = env.step(act(obs[None])[0])
        total += float(reward)
        done = terminated or truncated
        t += 1
        if t % every == 0 or done:
            frames.append(env.render())
    env.close()
    images = [Image.fromarray(f).convert("P", palette=Image.Palette.ADAPTIVE) for f in frames]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=int(1000 * every / fps), loop=0
    )
    return total


def with_overrides(config, items):
    """`config` with `--set` items applied: `hidden=128,128`, `learning_rate=5e-4`,
    `evaluation=none`, `evaluation.stop_return=230`; each value typed by the field's current one."""
    for item in items:
        name, _, text = item.partition("=")
        config = _override(config, name.split("."), text, item)
    return config


def _override(config, path, text, item):
    fields = {f.name for f in dataclasses.fields(config)}
    if path[0] not in fields:
        raise SystemExit(
            f"--set {item}: {type(config).__name__} has no field {path[0]!r}; fields: "
            + ", ".join(sorted(fields))
        )
    current = getattr(config, path[0])
    if len(path) > 1:
        if not dataclasses.is_dataclass(current):
            raise SystemExit(f"--set {item}: {path[0]} is {current!r}, it has no fields")
        value = _override(current, path[1:], text, item)
    elif text.lower() == "none":
        value = None
    elif isinstance(current, bool):
        value = text.lower() in ("1", "true", "yes")
    elif isinstance(current, tuple):
        value = tuple(int(w) for w in text.split(",") if w)
    elif isinstance(current, int):
        value = int(float(text))
    elif isinstance(current, float) or current is None:
        value = float(text)
    else:
        value = text
    return dataclasses.replace(config, **{path[0]: value})


def make_config(module, env_id, seed, steps, overrides):
    """The agent's Config for `env_id` and `seed`, with the `--set` items and the `--steps`."""
    config = with_overrides(module.Config(env_id=env_id, seed=seed), overrides)
    if steps is not None:
        config = dataclasses.replace(config, total_steps=steps)
    return config


def add_run_options(parser):
    """The options of a training run (also those of the instructors' seed sweep)."""
    parser.add_argument("--algo", choices=ALGOS, default="dqn")
    parser.add_argument(
        "--env",
        choices=ENVS,
        default=None,
        help="default: LunarLander-v3 for dqn, LunarLanderContinuous-v3 for ppo",
    )
    parser.add_argument("--steps", type=int, default=None, help="training budget (env steps)")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads")
    parser.add_argument(
        "--onednn",
        choices=("0", "1"),
        default=None,
        help="set TF_ENABLE_ONEDNN_OPTS (another floating-point path)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a field of the agent's Config (repeatable; a dot reaches inside one: "
        "evaluation.stop_return=230)",
    )
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=("train", "evaluate", "watch"))
    add_run_options(parser)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--out", default=None, help="folder for the model, PNG and GIF (default: runs/q19_<algo>)"
    )
    args = parser.parse_args(argv)
    if args.onednn is not None:  # read by TensorFlow when it loads, which it has not yet
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = args.onednn
    args.set = list(args.set) + ([f"threads={args.threads}"] if args.threads != 1 else [])

    out = Path(args.out or f"runs/q19_{args.algo}")
    saved = out / "config.json"
    env_id = args.env
    if env_id is None and args.command in ("evaluate", "watch") and saved.exists():
        env_id = json.loads(saved.read_text()).get("env_id")
    env_id = env_id or DEFAULT_ENV[args.algo]
    if args.algo == "dqn" and env_id != "LunarLander-v3":
        parser.error("DQN needs discrete actions: use --env LunarLander-v3")
    if args.command != "train" and not model_path(args.algo, out).exists():
        parser.exit(
            2,
            f"{parser.prog} {args.command}: there is no trained {args.algo.upper()} "
            f"in {out}/ yet (no {model_path(args.algo, out).name}); train one first:\n"
            f"    python -m {__package__} train --algo {args.algo} --out {out}\n",
        )

    module = _module(args.algo)
    if args.command == "train":
        out.mkdir(parents=True, exist_ok=True)
        config = make_config(module, env_id, args.seed, args.steps, args.set)
        result = module.train(config, progress=True)
        policy = result.policy
        save_policy(args.algo, policy, out)
        saved.write_text(json.dumps(dataclasses.asdict(config), indent=2))
        (out / "learning_curve.json").write_text(
            json.dumps(
                {
                    "curve": result.curve,
                    "evaluations": result.evaluations,
                    "steps": result.steps,
                    "seconds": result.seconds,
                    "cpu_seconds": result.cpu_seconds,
                    "solved_at": result.solved_at,
                }
            )
        )
        plot_learning_curve(
            result.curve,
            out / "learning_curve.png",
            f"{args.algo.upper()} on {env_id}, seed {args.seed}",
            evaluations=result.evaluations,
        )
        print(
            f"trained {result.steps} steps in {result.seconds:.1f} s "
            f"({result.steps / result.seconds:.0f} steps/s, {result.cpu_seconds:.1f} CPU s); "
            + (
                "no in-training evaluation of 100 episodes reached the threshold"
                if result.solved_at is None
                else f"solved after {result.solved_at[0]} steps and {result.solved_at[1]:.1f} s "
                "(the first in-training evaluation of 100 episodes that reached the threshold)"
            )
        )
    else:
        policy = load_policy(args.algo, out)

    if args.command in ("train", "evaluate"):
        returns = module.evaluate(policy, env_id, args.episodes, seed=args.seed)
        verdict = "solved" if returns.mean() >= SOLVED else "not solved"
        print(
            f"evaluation over {args.episodes} episodes: {returns.mean():.1f} "
            f"+- {returns.std():.1f} ({verdict}; the threshold is {SOLVED:g})"
        )
    if args.command in ("train", "watch"):
        total = record_gif(policy, env_id, out / "episode.gif", seed=args.seed)
        print(
            f"wrote {out / 'episode.gif'} (return {total:.1f})"
            + (f" and {out / 'learning_curve.png'}" if args.command == "train" else "")
        )
    return 0


if __name__ == "__main__":
    try:  # a function not written yet: two lines, not a traceback
        from kata.demo import run
    except ImportError:  # run without the kata installed: the usual traceback
        sys.exit(main())
    sys.exit(run(main, tensorflow=False))  # main imports TensorFlow quietly itself
