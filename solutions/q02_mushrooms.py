"""Question 2: an application, the mushroom classifier (10 points).

The exam's story: on a hike you find a rare mushroom and want to know whether it is safe to eat.
You carry a table of many other mushrooms, each described by five features and labelled edible or
poisonous:

    feature           kind                            example
    cap_size_cm       a number, in centimetres        6.3
    stem_length_mm    a number, in millimetres        72.0
    cap_colour        one of 10 colours (COLOURS)     "brown"
    odour             one of 10 odours (ODOURS)       "anise"
    gills             "yes" or "no"                   "yes"
    (edibility)       "edible" or "poisonous"         the label to predict

The exam asked, in free text, how to preprocess such data for a neural network (the input vector
and its shape, how inputs and targets are represented, which transformations), which kind of task
this is, which architecture, which loss, and which activation and output functions fit. Here every
one of those answers is code you write, or a choice from given options, and the tests train your
model on a generated table and check that it tells poisonous from edible on mushrooms it never saw.

You write:

* ``TASK`` and ``ARCHITECTURE``: your choices, from ``TASKS`` and ``ARCHITECTURES``;
* ``INPUT_COLUMNS``: how many input columns each feature becomes (their sum is the input width);
* ``one_hot``: a category as a row of zeros with a single 1;
* ``read_numbers``: a numeric column as floats, with nan where a value is missing;
* ``fit_preprocessing``: everything preprocessing learns from the TRAINING split, and only there;
* ``transform``: a table as the float matrix the network reads;
* ``encode_targets``: the labels as 0 and 1;
* ``build_model``: a compiled Keras model.

Given code (you need not read it): ``make_mushrooms`` generates a table from a hidden rule, with
a little label noise and a few missing values; ``split_table`` shuffles it into a training and a
test split; ``preprocess`` and ``train_and_evaluate`` put your functions together.

A table is a dict that maps each column name to a NumPy array (one entry per mushroom). A missing
number is ``nan``; a missing category or gills entry is ``None``.
"""

from __future__ import annotations

import numpy as np

COLOURS = ("brown", "buff", "cinnamon", "green", "grey", "pink", "purple", "red", "white", "yellow")
"""The 10 cap colours, in the order of their one-hot columns."""
ODOURS = ("almond", "anise", "earthy", "fishy", "foul", "musty", "none", "pungent", "spicy", "tar")
"""The 10 odours, in the order of their one-hot columns."""
GILLS = ("no", "yes")
"""The values of the gills column: "no" becomes 0, "yes" becomes 1."""
LABELS = ("edible", "poisonous")
"""The values of the label column: "edible" becomes 0, "poisonous" becomes 1."""
NUMBERS = ("cap_size_cm", "stem_length_mm")
"""The numeric features, in the order of their input columns."""
CATEGORIES = {"cap_colour": COLOURS, "odour": ODOURS}
"""The categorical features and their categories, in the order of their input columns."""
FEATURES = (*NUMBERS, *CATEGORIES, "gills")
"""Every feature column of a table, in the order of the input vector."""
TARGET = "edibility"
"""The label column."""

TASKS = (
    "regression",
    "binary classification",
    "multi-class classification",
    "multi-label classification",
    "clustering",
)
ARCHITECTURES = (
    "feed-forward network (MLP)",
    "convolutional network (CNN)",
    "recurrent network (RNN)",
    "autoencoder",
)

# BEGIN SOLUTION: which kind of task is this? One of TASKS.
# HINT: Look at what the model must predict: the `edibility` column, the values it can take
#   (`LABELS`), and how many of them a single mushroom has.
# HINT: Rule the options of `TASKS` out one by one: is the target a quantity on a scale? Does every
#   mushroom come with a label at all? How many classes are there, and can one mushroom belong to
#   several of them at once?
TASK = "binary classification"
# STUB: TASK = None  # one of TASKS
# END SOLUTION

# BEGIN SOLUTION: which kind of architecture fits? One of ARCHITECTURES.
# HINT: Think about the shape of one input: what does `transform` hand the network for one mushroom,
#   an image, a sequence read in order, or a flat vector of features?
# HINT: Convolutions pay off when neighbouring inputs belong together (pixels), recurrence when the
#   input is read step by step in time, an autoencoder when there are no labels to learn from. Check
#   which of these holds for one row of the table.
ARCHITECTURE = "feed-forward network (MLP)"
# STUB: ARCHITECTURE = None  # one of ARCHITECTURES
# END SOLUTION

# BEGIN SOLUTION: how many input columns does each feature become?
# HINT: Each feature becomes as many columns as `transform` writes for it; its docstring lists the
#   blocks in order.
# HINT: A number stays one scaled number. A category without an order gets one column per possible
#   value (one-hot: count the tuple of its values). A feature with only two values needs a single
#   0/1 bit: a second column would only repeat the first.
INPUT_COLUMNS = {
    "cap_size_cm": 1,  # one standardised number
    "stem_length_mm": 1,
    "cap_colour": 10,  # one column per colour: one-hot
    "odour": 10,  # one column per odour: one-hot
    "gills": 1,  # one bit: yes = 1, no = 0
}
# STUB: INPUT_COLUMNS = {
# STUB:     "cap_size_cm": None,
# STUB:     "stem_length_mm": None,
# STUB:     "cap_colour": None,
# STUB:     "odour": None,
# STUB:     "gills": None,
# STUB: }
# END SOLUTION


def one_hot(values, categories, column):
    """Return the one-hot encoding of ``values``: a float32 array of shape (n, len(categories)).

    values: n category names (an array or a list); categories: the known categories, in the order
    of the output columns; column: the name of the column the values come from.

    Row i has a single 1, in the column of ``values[i]``, and zeros elsewhere. A value that is not
    one of ``categories`` (None included) raises ValueError whose message names the column and the
    value: an unknown colour must not quietly become a mushroom of no colour at all.
    """
    # BEGIN SOLUTION: one row per value with a single 1; ValueError for an unknown value
    # HINT: Start from an array of zeros, one row per value and one column per category, and put a
    #   single 1 in each row, at the position of that row's value in `categories`.
    # HINT: A dict from category to column index (built with `enumerate`) makes the lookup quick and
    #   tells you at once when a value is unknown. Check every value, None included, and raise a
    #   ValueError whose message names both the column and the value. The dtype is float32.
    index = {category: i for i, category in enumerate(categories)}
    encoded = np.zeros((len(values), len(categories)), dtype=np.float32)  # (n, k)
    for row, value in enumerate(values):
        if value not in index:
            raise ValueError(
                f"column {column!r}: unknown value {value!r}; expected one of {list(categories)}"
            )
        encoded[row, index[value]] = 1.0
    return encoded
    # END SOLUTION


def read_numbers(table, column):
    """Return ``table[column]`` as a float64 array of shape (n,), with nan where a value is missing.

    A value that is not a number (the string "big", say) raises ValueError whose message names
    the column and the value; ``float(value)`` alone would name only the value.
    """
    # BEGIN SOLUTION: each value as a float, nan for None; ValueError names column, value
    # HINT: Go through the column value by value: None becomes nan, anything else goes through
    #   `float`.
    # HINT: Wrap the conversion in try/except: `float` raises ValueError for a string like 'big'
    #   (and TypeError for odd objects). Catch both and raise your own ValueError whose message
    #   names the column as well as the value. Return a float64 array with one entry per row.
    values = np.empty(len(table[column]))
    for i, value in enumerate(table[column]):
        try:
            values[i] = np.nan if value is None else float(value)
        except (TypeError, ValueError):
            raise ValueError(f"column {column!r}: {value!r} is not a number") from None
    return values
    # END SOLUTION


def fit_preprocessing(train):
    """Learn from the training table what ``transform`` needs, and return it (any type you like).

    train: a table (see the module docstring) of the training split.

    What it must hold:
    - for each numeric feature, the mean and the standard deviation (NumPy's default, ddof=0) of
      its values in ``train``, ignoring missing ones: ``transform`` standardises with them;
    - for each categorical feature and for gills, its most frequent value in ``train``:
      ``transform`` fills a missing entry with it.

    Only the training split may be used here: the test split stands for mushrooms never seen.
    """
    # BEGIN SOLUTION: training means and stds, and the commonest categories
    # HINT: Return something that `transform` can look things up in (a dict keyed by column works
    #   well): for each numeric feature its training mean and standard deviation, for each
    #   categorical feature and for gills its most frequent training value.
    # HINT: Read the numbers with `read_numbers`, then ignore the nan entries: `np.nanmean` and
    #   `np.nanstd` do that, with ddof=0 by default. For the commonest value, leave the None entries
    #   out and count the rest, e.g. with `np.unique` (it can return the counts too) and
    #   `np.argmax`.
    # HINT: Use `train` and nothing else: the test split stands for mushrooms nobody has seen, so
    #   none of its statistics may leak into the preprocessing.
    stats = {}
    for column in NUMBERS:
        values = read_numbers(train, column)  # (n,), nan where missing
        stats[column] = (float(np.nanmean(values)), float(np.nanstd(values)))
    for column in (*CATEGORIES, "gills"):
        present = [value for value in train[column] if value is not None]
        names, counts = np.unique(np.asarray(present, dtype=str), return_counts=True)
        stats[column] = str(names[np.argmax(counts)])
    return stats
    # END SOLUTION


def transform(table, stats):
    """Return the network's input for every mushroom of ``table``: float32, shape (n, width).

    table: a table with the FEATURES columns (a label column may be there too, and is ignored);
    stats: what ``fit_preprocessing`` returned for the training split.

    The columns, in this order:
    1. cap_size_cm and stem_length_mm, each standardised with the TRAINING mean and standard
       deviation: (value - mean) / std; a missing number becomes 0 (the training mean);
    2. cap_colour one-hot (columns in COLOURS order), then odour one-hot (ODOURS order); a missing
       category is first replaced by the training split's most frequent one;
    3. gills: 1.0 for "yes", 0.0 for "no"; a missing entry becomes the training's most frequent.

    Raises ValueError, naming the column and the value, for: a missing feature column or a column
    that is not a feature nor the label; a number that is not a number ("big"); an unknown
    category or gills value.
    """
    # BEGIN SOLUTION: check the columns; then numbers, one-hot categories and gills
    # HINT: Build the matrix block by block in the docstring's order: the numeric columns, then the
    #   two one-hot blocks, then the gills bit; glue the blocks side by side at the end.
    # HINT: Before anything else compare the table's columns with `FEATURES` (the label `TARGET` may
    #   be there too) and raise a ValueError naming what is missing or unexpected. Fill a missing
    #   number with the training mean before standardising, so that it comes out as 0; standardise
    #   with the statistics in `stats`, never with the table's own.
    # HINT: Replace a missing category or gills entry by the training's commonest value before
    #   encoding; `one_hot` then checks the values for you. Of the two gills columns keep only the
    #   'yes' one. `np.concatenate` along the columns, then cast to float32.
    unknown = sorted(set(table) - {*FEATURES, TARGET})
    missing = [column for column in FEATURES if column not in table]
    if unknown or missing:
        raise ValueError(
            f"unexpected columns {unknown} and missing columns {missing}: "
            f"a table has the columns {list(FEATURES)} (and {TARGET!r})"
        )
    blocks = []
    for column in NUMBERS:
        mean, std = stats[column]
        values = read_numbers(table, column)  # (n,)
        values = np.where(np.isnan(values), mean, values)
        blocks.append(((values - mean) / std)[:, None])  # (n, 1)
    for column, categories in CATEGORIES.items():
        filled = [stats[column] if value is None else value for value in table[column]]
        blocks.append(one_hot(filled, categories, column))  # (n, 10)
    gills = [stats["gills"] if value is None else value for value in table["gills"]]
    blocks.append(one_hot(gills, GILLS, "gills")[:, 1:])  # (n, 1): the "yes" column
    return np.concatenate(blocks, axis=1).astype(np.float32)  # (n, 23)
    # END SOLUTION


def encode_targets(labels):
    """Return the labels as a float32 array of shape (n,): 0.0 for "edible", 1.0 for "poisonous".

    An unknown label raises ValueError whose message names the column (TARGET) and the value.
    """
    # BEGIN SOLUTION: 0 for edible, 1 for poisonous; ValueError for anything else
    # HINT: A label is one of `LABELS`, and its position in that tuple is the target you want.
    # HINT: You already wrote a function that maps names to positions and raises a ValueError naming
    #   the column for anything unknown: call it with `TARGET` as the column's name and keep the
    #   column that stands for 'poisonous'. Return float32 of shape (n,).
    return one_hot(labels, LABELS, TARGET)[:, 1]  # (n,): the "poisonous" column
    # END SOLUTION


def build_model(n_inputs):
    """Return a compiled Keras model that maps (batch, n_inputs) to the probability of poison.

    A feed-forward network whose hidden Dense layers use ReLU (``keras.Sequential`` is enough;
    begin it with ``keras.Input(shape=(n_inputs,))``). The output layer, its activation and the
    loss are the exam's questions, so they are yours to choose: the model reads what
    ``transform`` makes, learns from the targets ``encode_targets`` makes, and its output must
    be read as a probability of "poisonous" (``predict_poisonous`` reads it).

    Pick an optimizer that trains it in the five short epochs of ``train_and_evaluate``: Adam
    with a learning rate of about 0.01 does (its default, 0.001, needs several times more).
    """
    # BEGIN SOLUTION: a feed-forward network, compiled with a loss that fits its output
    # HINT: Start a `keras.Sequential` with `keras.Input(shape=(n_inputs,))`, then add a couple of
    #   hidden Dense layers (from `keras.layers`) with ReLU; a few dozen units each is plenty for
    #   this table.
    # HINT: The output must be read as the probability of ONE yes/no answer: how many units does
    #   that take, and which activation squashes any real number into the range from 0 to 1? A
    #   softmax over a single unit always gives 1, whatever the input.
    # HINT: Pick the loss that belongs to that output: a cross-entropy for two classes that receives
    #   probabilities (not logits) and targets of 0 and 1. Compile with the Adam optimizer (in
    #   `keras.optimizers`) at the larger learning rate the docstring suggests; an accuracy metric
    #   lets you watch training.
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(n_inputs,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),  # P(poisonous)
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model
    # END SOLUTION


# ------------------------------------------------------------------------------------------------
# Given code: the data, the split, and the whole pipeline.
# ------------------------------------------------------------------------------------------------

_STINKING = ("fishy", "foul", "pungent", "spicy", "tar")  # always poisonous
_SWEET = ("almond", "anise")  # always edible
_ODOUR_SHARES = (0.10, 0.10, 0.15, 0.07, 0.07, 0.15, 0.15, 0.07, 0.07, 0.07)  # in ODOURS order


def make_mushrooms(n, seed, label_noise=0.01, missing=0.02):
    """Generate a table of ``n`` mushrooms from a hidden rule (the same table for the same seed).

    The rule: a stinking odour means poison, a sweet one means edible; with any other odour a
    mushroom is poisonous when it has no gills, is green or purple, or has a cap wider than its
    stem is long (plus half a centimetre). Then a fraction ``label_noise`` of the labels is
    flipped, and a fraction ``missing`` of the sizes, lengths and colours is blanked out.
    """
    rng = np.random.default_rng(seed)
    cap = np.round(rng.lognormal(np.log(6.0), 0.45, n), 1)  # (n,) centimetres
    stem = np.round(np.clip(rng.normal(70.0, 25.0, n), 10.0, None), 0)  # (n,) millimetres
    colour = rng.choice(COLOURS, n)
    odour = rng.choice(ODOURS, n, p=_ODOUR_SHARES)
    gills = rng.random(n) < 0.8
    plain = ~np.isin(odour, _STINKING + _SWEET)
    risky = ~gills | np.isin(colour, ("green", "purple")) | (cap > stem / 10 + 0.5)
    poisonous = np.isin(odour, _STINKING) | (plain & risky)
    poisonous ^= rng.random(n) < label_noise
    cap[rng.random(n) < missing] = np.nan
    stem[rng.random(n) < missing] = np.nan
    colour = colour.astype(object)
    colour[rng.random(n) < missing] = None
    return {
        "cap_size_cm": cap,
        "stem_length_mm": stem,
        "cap_colour": colour,
        "odour": odour.astype(object),
        "gills": np.where(gills, "yes", "no").astype(object),
        TARGET: np.where(poisonous, "poisonous", "edible").astype(object),
    }


def split_table(table, test_fraction, seed):
    """Shuffle the rows of ``table`` and cut them into a (train, test) pair of tables."""
    n = len(table[TARGET])
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return {k: v[train] for k, v in table.items()}, {k: v[test] for k, v in table.items()}


def preprocess(train, test):
    """Return ``x_train, y_train, x_test, y_test``, with statistics from the training split only."""
    stats = fit_preprocessing(train)
    return (
        transform(train, stats),
        encode_targets(train[TARGET]),
        transform(test, stats),
        encode_targets(test[TARGET]),
    )


def predict_poisonous(model, x):
    """The model's verdict per row: True for poisonous (one sigmoid unit, or softmax over two)."""
    out = np.asarray(model(x, training=False))  # (n, 1) or (n, 2)
    return out[:, 0] > 0.5 if out.shape[-1] == 1 else np.argmax(out, axis=-1) == 1


def train_and_evaluate(seed, n_rows=3000, test_fraction=1 / 3, epochs=5, batch_size=64):
    """Generate a table, preprocess it, train ``build_model`` on it; return the test accuracy."""
    import keras

    keras.utils.set_random_seed(seed)
    train, test = split_table(make_mushrooms(n_rows, seed), test_fraction, seed)
    x_train, y_train, x_test, y_test = preprocess(train, test)
    model = build_model(x_train.shape[1])
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    return float(np.mean(predict_poisonous(model, x_test) == (y_test == 1.0)))
