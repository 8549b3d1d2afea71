"""A stand-in for implicit's GPU ALS, for testing which path a fit takes where there is no GPU."""


class StandInGpuALS:
    """Takes the place of implicit's GPU ALS (no CUDA device here): records that it was chosen,
    and fits on the CPU so that the rest of the path runs for real."""

    made: list = []

    def __init__(self, factors, regularization, alpha, *, dtype, iterations, calculate_training_loss, random_state):
        from implicit.cpu.als import AlternatingLeastSquares

        self.cpu = AlternatingLeastSquares(
            factors=factors, regularization=regularization, alpha=alpha, iterations=iterations,
            random_state=random_state, num_threads=1,
        )  # fmt: skip
        self.fitted = False
        StandInGpuALS.made.append(self)

    def fit(self, user_items, show_progress=True):
        self.cpu.fit(user_items, show_progress=False)
        self.fitted = True

    def to_cpu(self):
        return self.cpu
