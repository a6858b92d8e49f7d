"""What each exam question is worth, and how its points are split over its tests.

This is the one place that holds points. The exam's points per question add up to 99, plus
2 bonus points for question 20. Within a question, every test function has a weight; the
question's points are split in proportion to the weights, and the parametrized cases of one
test function share that function's weight equally.

Questions with ``negative_marking`` are true/false statements, marked as the exam marked them:
a right answer earns its share, a wrong one subtracts it, an empty one (the test ends in
``kata.testing.unanswered``) gives 0, and the question never goes below 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Question:
    number: int
    title: str
    points: float
    bonus: bool = False
    negative_marking: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    """Weight of each test function (its name without the parametrize id)."""


QUESTIONS: dict[int, Question] = {
    q.number: q
    for q in [
        Question(1, "Biological and artificial neurons", 1.5, negative_marking=True),
        Question(2, "Application: a mushroom classifier", 10),
        Question(
            3,
            "Backpropagation",
            10,
            weights={
                "test_exam_forward_pass": 2,
                "test_exam_deltas": 2,
                "test_exam_updated_parameters": 2.5,
                "test_forward_pass_matches_tensorflow": 0.75,
                "test_deltas_match_gradient_tape": 0.75,
                "test_updated_parameters_match_sgd_on_gradient_tape": 1,
                "test_result_holds_one_float64_array_per_layer": 0.25,
                "test_inputs_are_not_modified": 0.25,
                "test_relu_passes_no_gradient_at_zero_drive": 0.25,
                "test_unknown_activation_raises_value_error": 0.25,
            },
        ),
        Question(4, "Optimizers", 5, negative_marking=True),
        Question(5, "Activations and gradients", 2.5, negative_marking=True),
        Question(6, "Zero-centred drives", 3),
        Question(7, "Overfitting and regularisation", 5),
        Question(
            8,
            "Convolution",
            3,
            weights={},
        ),
        Question(9, "Advanced CNNs", 4, negative_marking=True),
        Question(10, "Deep models: CNN and RNN adaptations", 10),
        Question(11, "Which architecture?", 5),
        Question(
            12,
            "Counting parameters",
            4,
            weights={},
        ),
        Question(13, "Variational autoencoders", 3, negative_marking=True),
        Question(14, "GAN loss and autoencoder loss", 5),
        Question(15, "GANs", 2, negative_marking=True),
        Question(16, "Bahdanau attention", 4),
        Question(17, "Word embeddings and negative sampling", 4),
        Question(18, "Reverse ML engineering", 12),
        Question(
            19,
            "Reinforcement learning: Lunar Lander",
            6,
            weights={},
        ),
        Question(20, "L0 regularisation (a paper)", 2, bonus=True),
    ]
}

EXAM_POINTS = sum(q.points for q in QUESTIONS.values() if not q.bonus)
BONUS_POINTS = sum(q.points for q in QUESTIONS.values() if q.bonus)
