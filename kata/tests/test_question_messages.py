"""A learner's mistake gets a message that names it, and only it, and gives no answer away.

Each *mutant* is the reference solution with a deliberate, realistic learner mistake in it,
written into a folder laid out like ``exercises/``. The question's tests run against it with the
kata's plugin (``--target`` names the folder), and the tests here read the outcome of every kata
test (from pytest's JUnit XML) and check that the right ones fail, with the right message: the
mistake named where it can be known, no hint that names another mistake, wrong types shown as
types, and no chained "During handling of the above exception" traceback. A message names the
rule a slip breaks, in the task's words, but never the formula or the code that fixes it: that
is what the graded hints ration (``pytest --hint``), so the checks here also look for formulas
that must NOT be in a message.

One folder may hold one mutant of each question, and one mutant may carry mistakes in functions
whose tests do not meet: every TensorFlow import costs seconds, so the runs that need the
TensorFlow oracle share it, and run no more tests than they need. For the same reason every run
happens in one pytest process of its own (``PytestProcess``), without the worker process a
learner's run adds: TensorFlow is imported there once, not once per run.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import needs_tensorflow

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
TEST_FILES = {
    1: "q01_neurons",
    3: "q03_backprop",
    4: "q04_optimizers",
    5: "q05_activations",
    6: "q06_centred_drives",
    8: "q08_convolution",
    9: "q09_advanced_cnns",
    11: "q11_which_architecture",
    12: "q12_parameters",
    13: "q13_vae",
    14: "q14_losses",
    15: "q15_gans",
    17: "q17_word2vec",
    18: "q18_reverse_engineering",
}
CHAINED = "During handling of the above exception"

# Two runs need TensorFlow and run three questions' tests on a 2-core machine: about 20 s of
# CPU each, so a minute of wall time on a busy one; 900 s leave room for one three times slower.
# Three more need TensorFlow for question 8's exam example alone (its feature map comes from
# tf.nn.conv2d, not from a literal). The runs share one TensorFlow import, in their own process.
pytestmark = pytest.mark.timeout(900)


# --------------------------------------------------------------------------------------------
# Building mutants
# --------------------------------------------------------------------------------------------


def edit(source: str, old: str, new: str, count: int = 1) -> str:
    """Replace ``old`` (which must occur exactly ``count`` times) by ``new``."""
    found = source.count(old)
    assert found == count, (
        f"the reference has {found} copies of {old!r}, the mutant expects {count}"
    )
    return source.replace(old, new)


def copy_of(source: str, function: str, name: str) -> str:
    """The reference's ``function`` under another name, to keep a right copy beside a mutant."""
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
    lines = source.splitlines()[node.lineno - 1 : node.end_lineno]
    lines[0] = lines[0].replace(f"def {function}(", f"def {name}(", 1)
    return "\n\n\n" + "\n".join(lines) + "\n"


def mutant(question: int, *edits: tuple[str, str] | tuple[str, str, int], append: str = "") -> str:
    source = (SOLUTIONS / f"{TEST_FILES[question]}.py").read_text()
    for change in edits:
        source = edit(source, *change)
    return source + append


Q08 = (SOLUTIONS / "q08_convolution.py").read_text()
Q12 = (SOLUTIONS / "q12_parameters.py").read_text()

MUTANTS = {
    # Q3: the forward results handed back as Python lists, the deltas appended from the output
    # down, and each delta carried back through the weights already updated.
    "q03_lists_reversed_updated": mutant(
        3,
        (
            "return BackpropStep(drives, activations, deltas, new_weights, new_biases)",
            "drives = [d.tolist() for d in drives]\n"
            "    activations = [a.tolist() for a in activations]\n"
            "    return BackpropStep(drives, activations, deltas, new_weights, new_biases)",
        ),
        (
            "deltas, new_weights, new_biases = [None] * depth, [None] * depth, [None] * depth",
            "deltas, new_weights, new_biases = [], [None] * depth, [None] * depth",
        ),
        ("        deltas[layer] = delta\n", "        deltas.append(delta)\n"),
        (
            "        grad_a = weights[layer].T @ delta  # dL/da^{l-1}, through the OLD weights, "
            "(n_{l-1},)\n",
            "",
        ),
        (
            "        new_biases[layer] = biases[layer] - learning_rate * delta\n",
            "        new_biases[layer] = biases[layer] - learning_rate * delta\n"
            "        grad_a = new_weights[layer].T @ delta\n",
        ),
    ),
    # Q3: a dict instead of a BackpropStep.
    "q03_dict": mutant(
        3,
        (
            "return BackpropStep(drives, activations, deltas, new_weights, new_biases)",
            'return {"drives": drives, "activations": activations, "deltas": deltas, '
            '"weights": new_weights, "biases": new_biases}',
        ),
    ),
    # Q3: ReLU'(0) taken as 1, and an unknown activation quietly treated as linear.
    "q03_activate": mutant(
        3,
        ("(drive > 0).astype(np.float64)", "(drive >= 0).astype(np.float64)"),
        (
            '    raise ValueError(f"unknown activation {activation!r}: expected one of '
            "{', '.join(ACTIVATIONS)}\")\n",
            "    return drive.copy(), np.ones_like(drive)\n",
        ),
    ),
    # Q3: the loss's 1/2 left out of its derivative: every delta and every step twice as large.
    "q03_no_half": mutant(3, ("grad_a = (a - t) / a.size", "grad_a = 2 * (a - t) / a.size")),
    # Q8: the feature map transposed; conv2d sized as if every image were square; output_size
    # ignoring the stride (feature_map and conv2d keep a right copy of it).
    "q08_transposed_square_size": mutant(
        8,
        ("    return result\n", "    return result.T\n"),
        (
            "    windows = windows[:, ::sr, ::sc][:, :out_r, :out_c]",
            "    windows = windows[:, ::sr, ::sc][:, :out_r, :out_r]",
        ),
        ("out = output_size(n, k, s, padding)", "out = _right_size(n, k, s, padding)", 2),
        ("return -(-n // stride)  # ceil(n / s)", "return n  # ceil(n / s)"),
        ("return (n - kernel) // stride + 1", "return n - kernel + 1"),
        append=copy_of(Q08, "output_size", "_right_size"),
    ),
    # Q8: the feature map as a list; conv2d's odd padding zero put first; output_size without
    # the kernel's length (feature_map and conv2d keep a right copy of it).
    "q08_list_odd_zero_no_kernel": mutant(
        8,
        ("    return result\n", "    return result.tolist()\n"),
        (
            "        pads.append((total // 2, total - total // 2))\n    pads.append((0, 0))",
            "        pads.append((total - total // 2, total // 2))\n    pads.append((0, 0))",
        ),
        ("out = output_size(n, k, s, padding)", "out = _right_size(n, k, s, padding)", 2),
        ("return (n - kernel) // stride + 1", "return (n - 1) // stride + 1"),
        append=copy_of(Q08, "output_size", "_right_size"),
    ),
    # Q8: the kernel flipped (true convolution).
    "q08_flipped": mutant(8, ("np.sum(patch * kernel)", "np.sum(patch * kernel[::-1, ::-1])")),
    # Q8: the output sized with the stride, but the kernel moved one pixel at a time.
    "q08_stride_in_loop": mutant(
        8,
        (
            "patch = padded[i * sr : i * sr + kr, j * sc : j * sc + kc]",
            "patch = padded[i : i + kr, j : j + kc]",
        ),
    ),
    # Q8: the stride ignored altogether.
    "q08_no_stride": mutant(
        8,
        (
            '    strides = _as_pair(stride, "stride")\n    out_shape, pads = [], []\n',
            "    strides = (1, 1)\n    out_shape, pads = [], []\n",
        ),
    ),
    # Q12: counts as floats (dense), forgotten recurrent weights (SimpleRNN), three gates
    # (LSTM), two biases whatever reset_after says (GRU), forgotten biases (Conv2D); the exam's
    # LSTM fed the raw features (with a right lstm_params copy).
    "q12_slips": mutant(
        12,
        ("return inputs * units + units  # kernel", "return units * (inputs + 1.0)  # kernel"),
        ("return inputs * units + units * units + units  #", "return inputs * units + units  #"),
        ("return 4 * (inputs", "return 3 * (inputs"),
        ("extra_bias = units if reset_after else 0", "extra_bias = units"),
        ("in_channels * filters + filters  #", "in_channels * filters  #"),
        ('("lstm", lstm_params(5, 15))', '("lstm", _right_lstm(features, 15))'),
        append=copy_of(Q12, "lstm_params", "_right_lstm"),
    ),
    # The mutants below each carry a slip whose message must name the rule it breaks, in the
    # task's words, and not the formula or the code that fixes it: that is the graded hints' to
    # give, one at a time (pytest --hint).
    # Q1: the firing rate per time step instead of per second.
    "q01_rate_per_step": mutant(
        1,
        ("/ (len(spikes) * dt / 1000.0))", "/ len(spikes))"),
    ),
    # Q4: the activations of at most 8 examples kept, whatever the batch.
    "q04_capped_batch": mutant(
        4,
        (
            "return int(batch_size) * int(sum(layer_sizes))",
            "return int(min(batch_size, 8)) * int(sum(layer_sizes))",
        ),
    ),
    # Q5: softplus written as it stands (it overflows), and the earlier biases lost when the
    # linear layers are collapsed.
    "q05_overflow_lost_biases": mutant(
        5,
        (
            "return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))",
            "return np.log(1.0 + np.exp(np.asarray(x, dtype=np.float64)))",
        ),
        ("b = b @ weight + bias", "b = 0.0 * (b @ weight) + bias"),
    ),
    # Q6: the per-example weight gradient without the input.
    "q06_no_input": mutant(
        6,
        (
            "return delta[:, None] * x, delta",
            "return np.repeat(delta[:, None], x.shape[1], axis=1), delta",
        ),
    ),
    # Q9: a Conv2D with two biases per filter; a Flatten head with one parameter too many.
    "q09_counts": mutant(
        9,
        ("params=weights + filters,", "params=weights + 2 * filters,"),
        (
            "return height * width * channels * classes + classes",
            "return height * width * channels * classes + classes + 1",
        ),
    ),
    # Q11: a Storm that adds one Drizzle's maps only.
    "q11_one_drizzle": mutant(
        11,
        ("clouds += drizzles * drops  #", "clouds += drops  #"),
    ),
    # Q13: exp(logvar) taken as the standard deviation; the KL's log-variance term flipped.
    "q13_std_kl": mutant(
        13,
        ("return mean + tf.exp(0.5 * logvar) * eps", "return mean + tf.exp(logvar) * eps"),
        ("- 1.0 - logvar)", "- 1.0 + logvar)"),
    ),
    # Q14: the discriminator's loss as the log of a sigmoid (infinite for confident logits).
    "q14_log_of_sigmoid": mutant(
        14,
        (
            "return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(\n"
            "        tf.nn.softplus(fake_logits)\n    )",
            "return -tf.reduce_mean(tf.math.log(tf.sigmoid(real_logits))) - tf.reduce_mean(\n"
            "        tf.math.log(1.0 - tf.sigmoid(fake_logits))\n    )",
        ),
    ),
    # Q15: the saturating generator loss returns the non-saturating one.
    "q15_swapped_forms": mutant(
        15,
        (
            "return -tf.reduce_mean(tf.nn.softplus(fake_logits))",
            "return tf.reduce_mean(tf.nn.softplus(-fake_logits))",
        ),
    ),
    # Q17: the loss as the log of a sigmoid; negatives drawn from NumPy's global state.
    "q17_unstable_global": mutant(
        17,
        ("-tf.math.log_sigmoid(positive)", "-tf.math.log(tf.sigmoid(positive))"),
        ("tf.math.log_sigmoid(-negative)", "tf.math.log(tf.sigmoid(-negative))"),
        ("return rng.choice(", "return np.random.choice("),
    ),
    # Q18: a 'valid' transposed length one kernel too long.
    "q18_transpose_too_long": mutant(
        18,
        (
            "return n * stride + max(kernel - stride, 0)",
            "return n * stride + kernel",
        ),
    ),
    # Q12: a count returned as a string.
    "q12_str": mutant(
        12,
        ("return inputs * units + units  # kernel", "return str(inputs * units + units)  # kernel"),
    ),
}


# --------------------------------------------------------------------------------------------
# Running the kata's tests against a folder of mutants
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    outcome: str  # "passed", "failed" or "skipped"
    text: str  # the failure's message and report ("" if it passed)


class Run(dict):
    """Outcomes by test id (``test_exam_deltas[delta^2_1]``) of one question in one run."""

    def failed(self, test: str, *fragments: str) -> str:
        """Assert that ``test`` failed with every fragment in its message; return the message."""
        assert test in self, f"{test} did not run; ran: {sorted(self)}"
        got = self[test]
        assert got.outcome == "failed", f"{test} {got.outcome}, expected it to fail"
        for fragment in fragments:
            assert fragment in got.text, f"{test}: {fragment!r} not in its message:\n{got.text}"
        return got.text

    def passed(self, test: str) -> None:
        assert test in self, f"{test} did not run; ran: {sorted(self)}"
        assert self[test].outcome == "passed", f"{test} failed:\n{self[test].text}"

    def matching(self, prefix: str) -> dict[str, Outcome]:
        return {k: v for k, v in self.items() if k == prefix or k.startswith(prefix + "[")}


SERVE = """\
import json, os, sys
import pytest

replies = os.fdopen(os.dup(1), "w")
log = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
os.dup2(log, 1)
os.dup2(log, 2)
for line in sys.stdin:
    code = pytest.main(json.loads(line))
    sys.stdout.flush()
    print(int(code), file=replies, flush=True)
"""


class PytestProcess:
    """A Python process that runs ``pytest.main(args)`` on request, again and again.

    Each run is a whole pytest session with the kata's plugin; what the runs share is what
    Python caches, above all TensorFlow, imported by the first run that needs it.
    """

    def __init__(self, log: Path):
        self.log = log
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(log)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def run(self, args: list[str]) -> int:
        """pytest's exit code for ``pytest ARGS``, run in the kata's root."""
        self.process.stdin.write(json.dumps(args) + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        assert reply, f"the pytest process ended:\n{self.output()}"
        return int(reply)

    def output(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def run_kata(
    folder: Path, files: dict[int, str], tests: list[str], pytest_process: PytestProcess
) -> dict[int, Run]:
    """Write ``files`` (question -> source) into ``folder/exercises`` and run ``tests`` on it."""
    target = folder / "exercises"
    target.mkdir(parents=True)
    (target / "__init__.py").write_text("")
    for question, source in files.items():
        (target / f"{TEST_FILES[question]}.py").write_text(source)
    report = folder / "junit.xml"
    args = [
        *tests, "--target", str(target), "-p", "no:xdist",
        "-p", "no:cacheprovider", "--junitxml", str(report), "-q",
    ]  # fmt: skip
    code = pytest_process.run(args)
    assert code in (0, 1) and report.exists(), (
        f"pytest did not complete (exit code {code}):\n{pytest_process.output()}"
    )
    runs: dict[int, Run] = {question: Run() for question in files}
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        question = next((q for q, name in TEST_FILES.items() if module == f"test_{name}"), None)
        if question not in runs:
            continue
        outcome, text = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = "skipped" if child.tag == "skipped" else "failed"
                text = f"{child.get('message', '')}\n{child.text or ''}"
        runs[question][case.get("name")] = Outcome(outcome, text)
    return runs


def selection(question: int, tests: tuple[str, ...] | None) -> list[str]:
    """The test ids to run for ``question``: ``tests`` (function names) or all of them."""
    file = f"tests/test_{TEST_FILES[question]}.py"
    if tests is None:
        return [file]
    text = (ROOT / file).read_text()
    return [f"{file}::{test}" for test in tests if f"def {test}(" in text]


# (question, test function, the rule its failed cases name, what none of them may show: the
# formula or the call that fixes the slip)
RULES = [
    (1, "test_firing_rate_counts_spikes_per_second", "spikes per SECOND (Hz)",
     ("20000 steps", "divide by", "2 s)")),
    (4, "test_activation_memory_grows_with_the_batch_size", "one row per example", (" x the ",)),
    (5, "test_large_inputs_give_finite_exact_results", "no intermediate value may become inf",
     ("logaddexp", "sigmoid")),
    (5, "test_linear_layers_collapse_into_one", "biases included", ("b1 @ W2", "W1 @ W2")),
    (6, "test_neuron_gradients_match_gradient_tape", "only through the drive",
     ("* x_n", "y_n) *")),
    (9, "test_conv_cost_matches_keras", "counts every weight of its kernel and every bias",
     ("has a ", "biases (")),
    (9, "test_head_params_match_keras", "has no weights of its own", ()),
    (11, "test_stage_channels_of_the_mystery_model", "new maps to everything that reaches it",
     ("reaches it: ", " * ")),
    (13, "test_reparameterize_with_given_eps_matches_the_formula",
     "z needs the standard deviation", ("logvar / 2", "square root")),
    (13, "test_kl_divergence_hand_computed", "closed-form KL divergence",
     ("mean^2", "exp(logvar) +")),
    (14, "test_discriminator_loss_is_stable_for_confident_logits", "computed from the logits",
     ("softplus", "from_logits=True)")),
    (15, "test_generator_loss_matches_keras", "you swapped the two forms", ("label 0", "softplus")),
    (17, "test_loss_stays_finite_for_large_scores", "must stay finite",
     ("log_sigmoid", "softplus")),
    (17, "test_sample_negatives_uses_the_given_generator", "the only source of randomness",
     ("rng.choice",)),
    (18, "test_conv_transpose_length_matches_keras",
     "covers every pixel its stamped kernels reach", ("max(", "n * s +")),
]  # fmt: skip

# The mutant each question's slips are made in, for the "rules" run.
RULE_MUTANTS = {
    1: "q01_rate_per_step",
    4: "q04_capped_batch",
    5: "q05_overflow_lost_biases",
    6: "q06_no_input",
    9: "q09_counts",
    11: "q11_one_drizzle",
    13: "q13_std_kl",
    14: "q14_log_of_sigmoid",
    15: "q15_swapped_forms",
    17: "q17_unstable_global",
    18: "q18_transpose_too_long",
}

Q3_EXAM = ("test_exam_forward_pass", "test_exam_deltas", "test_exam_updated_parameters")
Q3_CONTRACT = (
    "test_result_holds_one_float64_array_per_layer",
    "test_relu_passes_no_gradient_at_zero_drive",
    "test_unknown_activation_raises_value_error",
)
Q8_FEATURE_MAP = (  # the exam's example needs tf.nn.conv2d; the other two no oracle
    "test_exam_feature_map_with_stride_two",
    "test_feature_map_returns_floats",
    "test_kernel_is_not_flipped",
)
RUNS = {
    # name: {question: (mutant, the test functions to run, None for all)}
    # Two runs import TensorFlow: each costs its import (seconds), so they share it.
    "tf_slips": {
        3: (
            "q03_lists_reversed_updated",
            Q3_EXAM + Q3_CONTRACT + ("test_forward_pass_matches_tensorflow",),
        ),
        8: ("q08_transposed_square_size", None),
        12: ("q12_slips", None),
    },
    "tf_types": {
        3: ("q03_dict", Q3_EXAM + Q3_CONTRACT + ("test_deltas_match_gradient_tape",)),
        8: ("q08_list_odd_zero_no_kernel", None),
        12: ("q12_str", ("test_dense_params_matches_keras", "test_lstm_params_matches_keras")),
    },
    # The others run few tests: question 3's without an oracle, and question 8's exam example
    # (which imports TensorFlow) with two tests without an oracle.
    "flipped_activate": {3: ("q03_activate", Q3_CONTRACT), 8: ("q08_flipped", Q8_FEATURE_MAP)},
    "no_half": {3: ("q03_no_half", ("test_exam_deltas", "test_exam_updated_parameters"))},
    # One run for the slips of the other questions, each with the tests it concerns (RULES).
    "rules": {
        question: (mutant, tuple(test for q, test, *_ in RULES if q == question))
        for question, mutant in RULE_MUTANTS.items()
    },
    "stride_in_loop": {8: ("q08_stride_in_loop", Q8_FEATURE_MAP)},
    "no_stride": {8: ("q08_no_stride", Q8_FEATURE_MAP)},
}


@pytest.fixture(scope="module")
def kata_run(tmp_path_factory):
    """``kata_run("tf_slips")[8]``: the outcomes of question 8's tests in that run (cached)."""
    done: dict[str, dict[int, Run]] = {}
    started: list[PytestProcess] = []

    def get(name: str) -> dict[int, Run]:
        if name not in done:
            if not started:
                started.append(PytestProcess(tmp_path_factory.mktemp("pytest") / "output.txt"))
            plan = RUNS[name]
            tests = [t for q, (_, only) in sorted(plan.items()) for t in selection(q, only)]
            files = {q: MUTANTS[mutant_name] for q, (mutant_name, _) in plan.items()}
            done[name] = run_kata(tmp_path_factory.mktemp(name), files, tests, started[0])
        return done[name]

    yield get
    for process in started:
        process.close()


def no_chained_tracebacks(runs: dict[int, Run]) -> None:
    for question, run in runs.items():
        for test, outcome in run.items():
            assert CHAINED not in outcome.text, f"question {question}, {test}:\n{outcome.text}"


# --------------------------------------------------------------------------------------------
# Question 3
# --------------------------------------------------------------------------------------------


def leaks_backprop(text: str) -> list[str]:
    """What in a message of question 3 works out a delta or a gradient: the hints' job."""
    formulas = ("(a - t) / n_out", "outer(", "lr * delta", "* delta^", "f'(d^l) *", "W_{l+1}^T")
    return [formula for formula in formulas if formula in text]


@needs_tensorflow
def test_q03_lists_in_a_backprop_step_fail_as_lists(kata_run):
    run = kata_run("tf_slips")[3]
    run.failed("test_exam_forward_pass[d^1_1]", "drives[0]", "(a list)", "NumPy")
    run.failed("test_exam_forward_pass[a^2_1]", "activations[1]", "(a list)")
    run.failed("test_result_holds_one_float64_array_per_layer", "drives[0]", "(a list)")
    forward = run.matching("test_forward_pass_matches_tensorflow")
    assert forward and all(
        o.outcome == "failed" and "(a list)" in o.text for o in forward.values()
    ), forward


@needs_tensorflow
def test_q03_deltas_from_the_output_down_are_named(kata_run):
    run = kata_run("tf_slips")[3]
    for name in ("delta^2_1", "delta^1_1", "delta^1_2"):
        text = run.failed(
            f"test_exam_deltas[{name}]",
            "run from the output down",
            "index 0 is layer 1",
        )
        assert not leaks_backprop(text), f"{name} gives the derivation away:\n{text}"


@needs_tensorflow
def test_q03_updated_weights_in_the_backward_pass_are_named(kata_run):
    run = kata_run("tf_slips")[3]
    for name in ("w^1_{2,1}", "w^1_{2,2}", "w^1_{2,3}", "b^1_2"):
        text = run.failed(
            f"test_exam_updated_parameters[{name}]",
            "UPDATED output weights",
            "gradient taken at the old parameters",
        )
        assert not leaks_backprop(text), f"{name} gives the derivation away:\n{text}"
    for name in ("w^2_{1,1}", "w^2_{1,2}", "b^2_1", "w^1_{1,1}", "b^1_1"):
        run.passed(f"test_exam_updated_parameters[{name}]")  # the slip does not touch them


@needs_tensorflow
def test_q03_a_forgotten_half_names_the_rule_not_the_derivative(kata_run):
    run = kata_run("no_half")[3]
    failed = {k: o.text for k, o in run.items() if o.outcome == "failed"}
    assert "test_exam_deltas[delta^2_1]" in failed, sorted(run)
    for test, text in failed.items():
        if test.startswith("test_exam_deltas"):
            assert "with respect to the DRIVE" in text and "1/2 * mean" in text, f"{test}:\n{text}"
        else:
            assert "the gradient taken at the old parameters" in text, f"{test}:\n{text}"
        assert "factor 1/2 of the loss is missing" in text, f"{test}:\n{text}"
        assert not leaks_backprop(text), f"{test} gives the derivation away:\n{text}"
        assert "cancels" not in text and "n_out" not in text, f"{test}:\n{text}"


@needs_tensorflow
def test_q03_a_result_that_is_not_a_backprop_step_fails_without_a_chained_traceback(kata_run):
    runs = kata_run("tf_types")
    no_chained_tracebacks(runs)
    run = runs[3]
    for test in ("test_exam_forward_pass[d^1_1]", "test_exam_deltas[delta^1_2]"):
        run.failed(test, "(a dict)", "expected a BackpropStep")
    run.failed("test_result_holds_one_float64_array_per_layer", "expected a BackpropStep")
    run.failed("test_deltas_match_gradient_tape[0-relu]", "expected a BackpropStep")


def test_q03_activation_slips_fail_their_own_tests(kata_run):
    runs = kata_run("flipped_activate")
    no_chained_tracebacks(runs)
    run = runs[3]
    run.failed("test_relu_passes_no_gradient_at_zero_drive", "ReLU'(0) = 0")
    run.failed(
        "test_unknown_activation_raises_value_error[tanh]", "expected it to raise ValueError"
    )
    run.passed("test_result_holds_one_float64_array_per_layer")


# --------------------------------------------------------------------------------------------
# Question 8
# --------------------------------------------------------------------------------------------

# A fragment of every hint question 8 can give: a message may hold only the one it expects.
HINTS = (
    "TRUE convolution",
    "transpose of the right result",
    "rows and columns are swapped",
    "swapped the kernel's rows",
    "ignored the stride",
    "one pixel at a time",
    "swapped the two strides",
    "means no padding at all",
    "without padding",
    "odd zero",
    "input channel",
    "averaged over",
    "kernel's length is missing",
    "round the division",
)


# The rule a wrong length without padding breaks, in the task's words; the count is the hints'.
VALID_RULE = "every output position needs the whole kernel inside the image"


def blames(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """The hints in ``text`` other than the ``allowed`` ones."""
    return [hint for hint in HINTS if hint in text and hint not in allowed]


@needs_tensorflow
def test_q08_a_transposed_map_is_called_a_transpose_and_nothing_else(kata_run):
    run = kata_run("tf_slips")[8]
    run.failed("test_exam_feature_map_with_stride_two", "transpose of the right result")
    random = run.matching("test_feature_map_matches_tensorflow")
    failed = {k: o.text for k, o in random.items() if o.outcome == "failed"}
    assert len(failed) >= 6, random  # most random maps are not square
    transposed = ("transpose of the right result", "rows and columns are swapped")
    for test, text in failed.items():
        assert any(hint in text for hint in transposed), f"{test}:\n{text}"
        assert not blames(text, allowed=transposed), f"{test} blames {blames(text)}:\n{text}"


@needs_tensorflow
def test_q08_a_square_wrong_shape_blames_neither_stride_nor_padding(kata_run):
    run = kata_run("tf_slips")[8]
    failed = {
        k: o.text
        for k, o in run.matching("test_conv2d_matches_tensorflow").items()
        if o.outcome == "failed"
    }
    assert failed, "conv2d sized as a square should fail on non-square images"
    for test, text in failed.items():
        assert "returned shape" in text and "cols" in text, f"{test}:\n{text}"
        assert not blames(text), f"{test} blames {blames(text)}:\n{text}"


@needs_tensorflow
def test_q08_output_size_hints_only_what_the_number_reveals(kata_run):
    run = kata_run("tf_slips")[8]
    # 6 - 4 + 1 = 3 is the length with stride 1, and nothing else: named
    run.failed("test_output_size_matches_tensorflow[n6-k4-s3-valid]", "ignored the stride")
    run.failed("test_output_size_matches_tensorflow[n5-k3-s2-same]", "ignored the stride")
    # 5 - 3 + 1 = 3 = ceil(5 / 2): the stride ignored, or padding, or the kernel's length left
    # out? No hint, only the rule, and not the count that fixes it (the graded hints' job).
    text = run.failed(
        "test_output_size_matches_tensorflow[n5-k3-s2-valid]",
        "returned 3, expected 2",
        "every output position needs the whole kernel inside the image",
    )
    assert not blames(text), text
    assert "floor(" not in text and "n - k" not in text, text
    run.passed("test_output_size_matches_tensorflow[n7-k3-s1-same]")


@needs_tensorflow
def test_q08_a_length_that_two_slips_give_gets_no_hint(kata_run):
    run = kata_run("tf_types")[8]
    # (n - 1) // s + 1 forgets the kernel, and is always ceil(n / s), the length with 'same':
    # from the number alone nobody can tell which, so no hint names padding (or the stride).
    for case, values in {
        "n5-k3-s2-valid": "returned 3, expected 2",
        "n6-k4-s3-valid": "returned 2, expected 1",
        "n9-k3-s4-valid": "returned 3, expected 2",
    }.items():
        text = run.failed(f"test_output_size_matches_tensorflow[{case}]", values, VALID_RULE)
        assert not blames(text), text
        assert "floor(" not in text and "(n - k)" not in text, text
    run.passed("test_output_size_matches_tensorflow[n8-k1-s3-valid]")  # k = 1: no slip at all
    run.passed("test_output_size_matches_tensorflow[n7-k3-s1-same]")


@needs_tensorflow
def test_q08_a_list_is_not_a_float_array(kata_run):
    run = kata_run("tf_types")[8]
    for test in ("test_exam_feature_map_with_stride_two", "test_feature_map_returns_floats"):
        run.failed(test, "(a list)", "expected a NumPy float array", ".tolist()")
    random = run.matching("test_feature_map_matches_tensorflow")
    assert random and all(o.outcome == "failed" and "(a list)" in o.text for o in random.values())


@needs_tensorflow
def test_q08_the_odd_padding_zero_first_is_named_only_where_it_shows(kata_run):
    run = kata_run("tf_types")[8]
    conv2d = run.matching("test_conv2d_matches_tensorflow")
    failed = {k: o.text for k, o in conv2d.items() if o.outcome == "failed"}
    assert failed, conv2d
    for test, text in failed.items():
        assert test.endswith("-same]"), f"{test} should pass: 'valid' pads nothing"
        assert "odd zero goes to the bottom or the right" in text, f"{test}:\n{text}"
        assert "// 2" not in text, f"{test} gives the padding's code away:\n{text}"
        assert not blames(text, allowed=("odd zero",)), text
    run.passed("test_exam_example_as_a_batch_matches_tensorflow")


@needs_tensorflow
def test_q08_a_flipped_kernel_is_named(kata_run):
    run = kata_run("flipped_activate")[8]
    for test in ("test_exam_feature_map_with_stride_two", "test_kernel_is_not_flipped"):
        text = run.failed(test, "TRUE convolution")
        assert not blames(text, allowed=("TRUE convolution",)), text
    run.passed("test_feature_map_returns_floats")


@needs_tensorflow
def test_q08_a_stride_forgotten_in_the_loop_is_named(kata_run):
    runs = kata_run("stride_in_loop")
    no_chained_tracebacks(runs)
    text = runs[8].failed(
        "test_exam_feature_map_with_stride_two", "at index", "moved one pixel at a time"
    )
    assert not blames(text, allowed=("one pixel at a time",)), text
    assert "i * stride" not in text, f"the patch's position is the hints' to give:\n{text}"


@needs_tensorflow
def test_q08_an_ignored_stride_is_named(kata_run):
    runs = kata_run("no_stride")
    no_chained_tracebacks(runs)
    text = runs[8].failed(
        "test_exam_feature_map_with_stride_two",
        "returned shape (3, 3), expected (2, 2)",
        "ignored the stride",
    )
    assert not blames(text, allowed=("ignored the stride",)), text


# --------------------------------------------------------------------------------------------
# Question 12
# --------------------------------------------------------------------------------------------


@needs_tensorflow
def test_q12_a_count_as_a_string_shows_as_a_string(kata_run):
    run = kata_run("tf_types")[12]
    for test, outcome in run.matching("test_dense_params_matches_keras").items():
        assert outcome.outcome == "failed", test
        assert "(a str)" in outcome.text and "is not an int; return an int" in outcome.text, (
            outcome.text
        )
    run.passed("test_lstm_params_matches_keras[seed0]")


@needs_tensorflow
def test_q12_each_counting_slip_is_named(kata_run):
    runs = kata_run("tf_slips")
    no_chained_tracebacks(runs)
    run = runs[12]
    expected = {
        "test_dense_params_matches_keras": "(a float), expected the int",
        "test_simple_rnn_params_matches_keras": "forgot the recurrent weights",
        "test_lstm_params_matches_keras": "three gates' worth",
        "test_conv2d_params_matches_keras": "forgot the biases: one per filter",
    }
    for function, fragment in expected.items():
        cases = run.matching(function)
        assert cases, function
        for test in cases:
            text = run.failed(test, fragment)
            # the composition of a count is named, never the product that gives it
            for formula in ("units x units", "(input, unit) pair", "inputs x units"):
                assert formula not in text, f"{test} gives {formula!r} away:\n{text}"
    for seed in range(3):
        run.failed(f"test_gru_params_matches_keras[seed{seed}-reset_after=False]", "single bias")
        run.passed(f"test_gru_params_matches_keras[seed{seed}-reset_after=True]")
    run.failed("test_exam_network_layer_params[lstm]", "not the 10 raw features")
    run.failed("test_exam_network_layer_params[dense_sigmoid]", "55.0 (a float)")
    run.failed("test_exam_network_total", "that is the sum of your layers")


# --------------------------------------------------------------------------------------------
# The other questions: a message names the rule a slip breaks, never the formula that fixes it
# --------------------------------------------------------------------------------------------


def failures(run: Run, prefix: str) -> dict[str, str]:
    """The messages of the failed cases of the test function ``prefix``; at least one."""
    failed = {k: o.text for k, o in run.matching(prefix).items() if o.outcome == "failed"}
    assert failed, f"no case of {prefix} failed: {sorted(run)}"
    return failed


def rule_not_formula(texts: dict[str, str], rule: str, *formulas: str) -> None:
    """Every message holds ``rule`` and none of ``formulas``."""
    for test, text in texts.items():
        assert rule in text, f"{test}: {rule!r} not in its message:\n{text}"
        leaked = [formula for formula in formulas if formula in text]
        assert not leaked, f"{test} gives {leaked} away:\n{text}"


@pytest.fixture(scope="module")
def rules(kata_run):
    runs = kata_run("rules")
    no_chained_tracebacks(runs)
    return runs


@needs_tensorflow
@pytest.mark.parametrize(
    "question, test, rule, formulas", RULES, ids=[f"q{q:02d}-{test}" for q, test, *_ in RULES]
)
def test_a_slip_is_named_by_its_rule_not_by_the_formula(rules, question, test, rule, formulas):
    rule_not_formula(failures(rules[question], test), rule, *formulas)


@needs_tensorflow
def test_which_cases_each_slip_fails(rules):
    """Only the cases a slip breaks fail: softplus overflows (q05), the saturating form is the
    one swapped (q15), a valid transposed length (q18); and a q09 head names no count."""
    assert set(failures(rules[5], "test_large_inputs_give_finite_exact_results")) == {
        "test_large_inputs_give_finite_exact_results[softplus]"
    }
    swapped = failures(rules[15], "test_generator_loss_matches_keras")
    assert all("saturating=True" in test for test in swapped), swapped
    valid = failures(rules[18], "test_conv_transpose_length_matches_keras")
    assert all(test.endswith("-valid]") for test in valid), valid
    for test, text in failures(rules[9], "test_head_params_match_keras").items():
        assert not re.search(r"hands \d", text), f"{test} counts what it hands on:\n{text}"
