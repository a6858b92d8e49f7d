"""What each exam question is worth, and how its points are split over its tests.

This is the one place that holds points. The exam's points per question add up to 99, plus
2 bonus points for question 20. Within a question, every test function has a weight; the
question's points are split in proportion to the weights, and the parametrized cases of one
test function share that function's weight equally.

Questions with ``negative_marking`` (``Question.true_false``) are true/false statements, marked
as the exam marked them: a right answer earns its share, a wrong one subtracts it, an empty one
gives 0, and the question never goes below 0. In such a question the statements carry all the
points (one parametrized test, made by ``kata.statements.statement_test``), and the experiments
that settle them have weight 0: they teach, they fail until the learner's code is right, and they
never cost points (so they are not listed here: a test of such a question that is not in its
``weights`` is an experiment). A question is *complete* only when every one of its tests passes,
experiments included.
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
    """Weight of each test function (its name without the parametrize id); with
    ``negative_marking``, only the statements' test."""
    demonstration: str = ""
    """A note for the question's row of the score table about its tests of weight 0 that are
    shown, not scored (the landings)."""

    @classmethod
    def true_false(cls, number: int, title: str, points: float, test="test_statement") -> Question:
        """A question of true/false statements, marked as the exam marked them: the parametrized
        ``test`` judges them (an equal share each); its experiments have weight 0."""
        return cls(number, title, points, negative_marking=True, weights={test: 1})

    def weight_of(self, test: str) -> float | None:
        """The weight of the test function ``test``; None if this table does not know it."""
        if test in self.weights:
            return float(self.weights[test])
        return 0.0 if self.negative_marking else None  # an experiment: it teaches, no points


QUESTIONS: dict[int, Question] = {  # in exam order, whatever the order below
    q.number: q
    for q in sorted(
        [
            Question.true_false(1, "Biological and artificial neurons", 1.5),
            Question(
                2,
                "Application: a mushroom classifier",
                10,
                weights={
                    # the exam's choices: the task and the architecture
                    "test_task_type": 1,
                    "test_architecture_choice": 1,
                    # preprocessing: the input vector, its width, how each feature becomes numbers
                    "test_input_columns": 1,
                    "test_transform_makes_23_columns": 0.5,
                    "test_one_hot_matches_keras_string_lookup": 1,
                    "test_one_hot_rows_sum_to_one": 0.5,
                    "test_numbers_are_standardised_with_training_statistics": 1,
                    "test_test_split_is_scaled_with_training_statistics": 1,
                    "test_the_rare_mushroom_is_transformed_alone": 0.5,
                    "test_missing_values_are_filled_from_the_training_split": 1,
                    "test_gills_are_one_bit": 0.25,
                    "test_targets_are_zero_for_edible_one_for_poisonous": 0.5,
                    "test_unknown_value_raises_value_error_naming_column_and_value": 0.5,
                    "test_wrong_column_raises_value_error_naming_it": 0.5,
                    # the model: architecture, activations, output and loss
                    "test_model_is_feed_forward": 0.75,
                    "test_hidden_layers_use_relu": 0.5,
                    "test_output_is_one_sigmoid_unit": 1,
                    "test_loss_fits_the_output": 1,
                    # training: accuracy on mushrooms the model never saw
                    "test_held_out_accuracy_after_a_short_training": 1,
                    "test_held_out_accuracy_on_several_seeds": 1,
                },
            ),
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
            Question.true_false(4, "Optimizers", 5),
            Question.true_false(5, "Activations and gradients", 2.5),
            Question(
                6,
                "Zero-centred drives",
                3,
                weights={
                    # technique 1: standardised inputs
                    "test_standardise_matches_keras_normalization": 1,
                    "test_one_example_is_standardised_like_inside_a_batch": 0.25,
                    # technique 2: batch normalisation
                    "test_batch_norm_training_matches_keras": 1,
                    "test_batch_norm_inference_matches_keras": 0.75,
                    "test_batch_norm_does_not_modify_its_arguments": 0.1,
                    # why: the gradients of one neuron, measured
                    "test_neuron_gradients_match_gradient_tape": 0.5,
                    "test_positive_inputs_give_every_weight_gradient_one_sign": 0.25,
                    "test_centred_inputs_mix_the_signs": 0.25,
                    "test_centred_inputs_reach_the_loss_in_fewer_steps": 0.4,
                    "test_centred_drives_keep_the_sigmoid_steep": 0.25,
                    "test_reasons": 1,
                },
            ),
            Question(
                7,
                "Overfitting and regularisation",
                5,
                weights={
                    # what overfitting is, measured
                    "test_definition_of_overfitting": 1,
                    "test_polynomial_features_are_powers_of_x": 0.2,
                    "test_fit_polynomial_matches_tensorflow_lstsq": 0.5,
                    "test_capacity_curve_matches_numpy_polyfit": 0.3,
                    "test_training_error_falls_with_capacity": 0.3,
                    "test_validation_error_rises_with_capacity": 0.3,
                    "test_picture_is_written": 0.1,
                    # regularisation 1: weight penalties
                    "test_l1_penalty_matches_keras": 0.5,
                    "test_l2_penalty_matches_keras": 0.5,
                    "test_penalty_gradients_match_gradient_tape": 0.5,
                    "test_l2_lowers_the_validation_error": 0.3,
                    # regularisation 2: dropout
                    "test_dropout_is_the_identity_in_inference": 0.25,
                    "test_dropout_keeps_the_expectation_in_training": 0.5,
                    "test_dropout_matches_keras_in_distribution": 0.5,
                    "test_dropout_draws_from_the_given_generator": 0.15,
                    "test_dropout_rejects_a_rate_outside_0_1": 0.1,
                },
            ),
            Question(
                8,
                "Convolution",
                3,
                weights={
                    "test_exam_feature_map_with_stride_two": 3,
                    "test_exam_example_as_a_batch_matches_tensorflow": 1,
                    "test_kernel_is_not_flipped": 1,
                    "test_feature_map_returns_floats": 0.25,
                    "test_feature_map_matches_tensorflow": 3,
                    "test_conv2d_matches_tensorflow": 3,
                    "test_output_size_matches_tensorflow": 1.5,
                    "test_unknown_padding_is_rejected": 0.5,
                    "test_kernel_larger_than_image_is_rejected_without_padding": 0.5,
                    "test_conv2d_rejects_channel_mismatch": 0.5,
                    "test_conv2d_keeps_float32": 0.25,
                    "test_conv2d_is_vectorised": 1,
                },
            ),
            Question.true_false(9, "Advanced CNNs", 4),
            Question(
                10,
                "Deep models: CNN and RNN adaptations",
                10,
                weights={
                    # 1. the problem and why depth causes it: 1
                    "test_problem_is_named": 0.5,
                    "test_cause_in_deep_models_is_named": 0.5,
                    # 2. two CNN adaptations, one in detail (a residual block, measured): 4
                    "test_cnn_adaptations_are_chosen": 1,
                    "test_residual_block_has_a_projection_only_where_needed": 0.75,
                    "test_residual_block_output_matches_its_equation": 1,
                    "test_residual_block_round_trips_through_config_and_keras_file": 0.25,
                    "test_backward_gradient_norms_match_gradient_tape": 0.25,
                    "test_residual_network_keeps_the_gradient": 0.5,
                    "test_residual_network_keeps_the_gradient_on_other_seeds": 0,  # slow: a check
                    "test_gradient_picture_is_written": 0.25,
                    # 3. why a one-layer RNN suffers too (depth in time, measured): 1
                    "test_cause_in_one_layer_rnns_is_named": 0.5,
                    "test_input_gradient_norms_match_gradient_tape": 0.25,
                    "test_lstm_keeps_the_gradient_over_50_steps": 0.25,
                    "test_lstm_keeps_the_gradient_over_50_steps_on_other_seeds": 0,  # slow: a check
                    # 4. two RNN adaptations, one in detail (an LSTM cell): 4
                    "test_rnn_adaptations_are_chosen": 1,
                    "test_lstm_cell_step_matches_keras": 1.5,
                    "test_lstm_cell_runs_a_sequence_like_keras_lstm": 0.75,
                    "test_lstm_cell_initialises_like_keras": 0.5,
                    "test_lstm_cell_round_trips_through_config": 0.25,
                },
            ),
            Question(
                11,
                "Which architecture?",
                5,
                weights={
                    "test_architecture": 1,
                    "test_giveaway_lines": 1,
                    "test_application": 0.5,
                    "test_transition_role": 0.75,
                    "test_stage_channels_of_the_mystery_model": 0.5,
                    "test_stage_channels_with_compression": 0.5,
                    "test_fixed_model_channels": 0.65,
                    "test_fixed_model_still_classifies": 0.1,
                },
            ),
            Question(
                12,
                "Counting parameters",
                4,
                weights={
                    "test_dense_params_matches_keras": 1,
                    "test_simple_rnn_params_matches_keras": 1,
                    "test_lstm_params_matches_keras": 2,
                    "test_gru_params_matches_keras": 1.5,
                    "test_conv2d_params_matches_keras": 1,
                    "test_exam_network_layer_params": 3,
                    "test_exam_network_total": 1.5,
                },
            ),
            Question.true_false(13, "Variational autoencoders", 3, test="test_statements"),
            Question(
                14,
                "GAN loss and autoencoder loss",
                5,
                weights={
                    # the autoencoder's loss: 0.9
                    "test_reconstruction_loss_hand_computed": 0.25,
                    "test_reconstruction_loss_matches_keras": 0.65,
                    # the GAN's losses: 1.6
                    "test_discriminator_loss_matches_keras": 0.65,
                    "test_discriminator_loss_is_stable_for_confident_logits": 0.25,
                    "test_generator_loss_matches_keras": 0.45,
                    "test_generator_loss_keeps_its_gradient_when_the_discriminator_wins": 0.25,
                    # the three losses return what their docstrings say (float32 tensors): 0.25
                    "test_losses_return_float32_tensors": 0.25,
                    # why a squared error blurs and an adversarial loss does not: 1
                    "test_best_squared_error_prediction_matches_gradient_descent": 0.5,
                    "test_squared_error_prefers_a_blur_of_neither_mode": 0.25,
                    "test_discriminator_rejects_the_blur": 0.25,
                    # the free-text parts as choices: 1.25
                    "test_choice": 1.25,
                },
            ),
            Question.true_false(15, "GANs", 2, test="test_statements"),
            Question(
                18,
                "Reverse ML engineering",
                12,
                weights={
                    "test_conv_length_matches_keras": 1.5,
                    "test_conv_transpose_length_matches_keras": 1.5,
                    "test_lengths_reject_an_unknown_padding": 0.25,
                    "test_layer_output_shape": 4,
                    "test_model_has_ten_layers_applied_in_order": 0.75,
                    "test_hourglass_is_a_registered_keras_model_subclass": 1,
                    "test_fit_lowers_the_loss": 1,
                    "test_from_config_gives_the_same_model": 1,
                    "test_keras_save_load_round_trip": 0.75,
                    "test_command_prints_the_shapes_beside_the_asked_ones": 0.25,
                },
            ),
            Question(
                16,
                "Bahdanau attention",
                4,
                weights={
                    # the layer: 2.6
                    "test_weights_have_the_documented_shapes": 0.2,
                    "test_exam_example_by_hand": 0.4,
                    "test_zero_v_gives_uniform_weights_and_the_mean": 0.1,
                    "test_matches_numpy_hand_computation": 0.4,
                    "test_weights_sum_to_one": 0.2,
                    "test_masked_steps_get_zero_weight": 0.25,
                    "test_masking_the_tail_equals_cutting_it_off": 0.15,
                    "test_matches_keras_additive_attention_with_identity_projections": 0.2,
                    "test_matches_keras_additive_attention_after_dense_projections": 0.3,
                    "test_gradients_match_a_tensorflow_oracle": 0.2,
                    "test_works_inside_tf_function": 0.05,
                    "test_saved_model_loads_with_the_same_outputs": 0.15,
                    # the exam's question: 0.9
                    "test_problem_attention_removes": 0.6,
                    "test_what_queries_the_encoder_states": 0.3,
                    # the experiment and the picture: 0.5
                    "test_tiny_reverse_experiment_runs": 0.1,
                    "test_attention_beats_fixed_context_on_long_sequences": 0.3,
                    "test_heat_map_is_written": 0.1,
                },
            ),
            Question(
                17,
                "Word embeddings and negative sampling",
                4,
                weights={
                    # training data: 0.8
                    "test_exam_skipgram_pairs_by_hand": 0.15,
                    "test_skipgram_pairs_match_keras": 0.25,
                    "test_skipgram_pairs_of_one_word_are_none": 0.05,
                    "test_exam_cbow_examples_by_hand": 0.1,
                    "test_cbow_examples_match_tensorflow_frames": 0.2,
                    "test_cbow_examples_of_a_short_sentence_are_none": 0.05,
                    # the noise distribution: 0.7
                    "test_exam_noise_distribution_by_hand": 0.15,
                    "test_noise_distribution_matches_the_formula": 0.2,
                    "test_negatives_follow_the_unigram_distribution_to_the_three_quarters": 0.25,
                    "test_sample_negatives_uses_the_given_generator": 0.1,
                    # the loss: 0.9
                    "test_exam_loss_at_word2vec_initialisation": 0.2,
                    "test_loss_matches_sigmoid_cross_entropy": 0.35,
                    "test_loss_gradients_match_sigmoid_cross_entropy": 0.2,
                    "test_loss_stays_finite_for_large_scores": 0.15,
                    # the cost and the exam's question: 1.3
                    "test_softmax_dot_products_match_tensorflow_logits": 0.3,
                    "test_negative_sampling_dot_products_match_tensorflow_logits": 0.2,
                    "test_exam_question": 0.8,  # two parts, 0.4 each
                    # the experiment and the picture: 0.3
                    "test_cooccurring_words_end_up_closer": 0.2,
                    "test_embedding_picture_is_written": 0.1,
                },
            ),
            Question(
                19,
                "Reinforcement learning: Lunar Lander",
                6,
                demonstration="landing: a demonstration, no points",
                weights={
                    # the MDP, checked against gymnasium's own environment: 1.5
                    "test_observation_space_matches_gymnasium": 0.25,
                    "test_action_space_matches_gymnasium": 0.2,
                    "test_time_limit_and_solved_threshold_match_gymnasium": 0.1,
                    "test_discrete_actions_fire_the_engines_they_name": 0.1,
                    "test_fuel_cost_of_each_discrete_action_matches_gymnasium": 0.1,
                    "test_continuous_dead_zones_and_throttle_match_gymnasium": 0.15,
                    "test_shaping_potential_matches_gymnasium": 0.15,
                    "test_episode_end_rewards_match_gymnasium": 0.05,
                    "test_choose_algorithm_picks_dqn_for_discrete_actions": 0.1,
                    "test_choose_algorithm_avoids_dqn_for_continuous_actions": 0.15,
                    "test_choose_algorithm_rejects_unknown_ids": 0.025,
                    "test_exam_answers_are_written": 0.125,
                    # the building blocks: 2.0
                    "test_replay_buffer_holds_at_most_capacity": 0.05,
                    "test_replay_buffer_overwrites_oldest_first": 0.1,
                    "test_replay_buffer_adds_a_batch_across_the_end": 0.1,
                    "test_replay_buffer_samples_the_generators_indices": 0.1,
                    "test_replay_buffer_stores_continuous_actions": 0.05,
                    "test_linear_epsilon_hand_computed": 0.1,
                    "test_td_targets_hand_computed": 0.1,
                    "test_td_targets_termination_stops_bootstrap_truncation_does_not": 0.15,
                    "test_td_targets_random_against_loop": 0.1,
                    "test_double_dqn_targets_hand_computed": 0.1,
                    "test_double_dqn_targets_random_against_loop": 0.1,
                    "test_discounted_returns_hand_computed": 0.1,
                    "test_discounted_returns_random_against_loop": 0.05,
                    "test_gae_hand_computed": 0.15,
                    "test_gae_random_against_loop": 0.1,
                    "test_gae_with_lambda_one_is_returns_minus_values": 0.05,
                    "test_gae_with_lambda_zero_is_the_one_step_td_error": 0.05,
                    "test_gaussian_log_prob_hand_computed": 0.1,
                    "test_gaussian_log_prob_random_against_loop": 0.05,
                    "test_ppo_clip_objective_hand_computed": 0.1,
                    "test_ppo_clip_objective_random_against_loop": 0.05,
                    "test_tensorflow_blocks_run_inside_tf_function": 0.15,
                    # the agents (tests/test_q19_lunar_lander_agents.py): 2.5
                    "test_dqn_runs_a_tiny_budget_with_a_finite_loss": 0.15,
                    "test_ppo_runs_a_tiny_budget_with_a_finite_loss": 0.15,
                    "test_dqn_train_step_is_compiled_and_moves_only_the_online_network": 0.3,
                    "test_dqn_train_step_lowers_the_loss_on_a_fixed_batch": 0.25,
                    "test_dqn_update_target_moves_the_target_by_tau": 0.2,
                    "test_ppo_update_is_compiled_and_improves_the_objective": 0.35,
                    "test_dqn_never_stores_the_autoreset_step": 0.35,
                    "test_ppo_bootstraps_truncated_episodes_from_their_final_observation": 0.35,
                    "test_evaluation_seeds_are_disjoint_from_training_seeds": 0.1,
                    "test_dqn_learning_raises_cartpole_returns": 0.15,
                    "test_ppo_learning_raises_cartpole_returns": 0.15,
                    # the landings pass on most seeds, not on every machine and seed: a
                    # demonstration (`nox -s landing`), worth nothing; their 0.6 went to the
                    # six deterministic agent tests above (0.1 each)
                    "test_dqn_solves_lunar_lander": 0,
                    "test_ppo_solves_continuous_lunar_lander": 0,
                    # the command line is given code: it teaches, it is worth nothing
                    "test_command_line_asks_to_train_before_watching": 0,
                    "test_command_line_prints_no_tensorflow_log_lines": 0,
                },
            ),
            Question(
                20,
                "L0 regularisation (a paper)",
                2,
                bonus=True,
                weights={
                    # the gate: 0.8
                    "test_exam_gate_samples_by_hand": 0.15,
                    "test_gate_samples_match_tensorflow": 0.15,
                    "test_gate_samples_use_the_constants_given": 0.05,
                    "test_gate_samples_broadcast_one_noise_per_example": 0.05,
                    "test_exam_probability_nonzero_by_hand": 0.1,
                    "test_probability_nonzero_matches_the_noise_threshold": 0.1,
                    "test_probability_nonzero_matches_the_sampled_gates": 0.05,
                    "test_exam_deterministic_gate_by_hand": 0.05,
                    "test_deterministic_gate_matches_tensorflow": 0.05,
                    "test_without_the_stretch_no_gate_is_exactly_zero": 0.05,
                    # the layer: 0.5
                    "test_layer_weights_have_the_documented_shapes": 0.05,
                    "test_layer_at_test_time_uses_the_deterministic_gates": 0.1,
                    "test_layer_in_training_gates_with_the_given_noise": 0.1,
                    "test_layer_in_training_draws_one_gate_per_example": 0.05,
                    "test_expected_l0_counts_the_weights_each_gate_switches": 0.1,
                    "test_gradients_reach_the_gates_in_training": 0.05,
                    "test_saved_model_loads_with_the_same_outputs": 0.05,
                    # the summary of the paper: 0.5
                    "test_summary_of_the_paper": 0.5,
                    # the experiment: 0.2
                    "test_l0_training_switches_off_the_irrelevant_inputs": 0.15,
                    "test_without_the_penalty_the_irrelevant_inputs_stay_on": 0.05,
                },
            ),
        ],
        key=lambda q: q.number,
    )
}

EXAM_POINTS = sum(q.points for q in QUESTIONS.values() if not q.bonus)
BONUS_POINTS = sum(q.points for q in QUESTIONS.values() if q.bonus)
