# One thread for the numerical libraries the FAQ matcher loads (numpy's BLAS, the embedding
# model's OpenMP): read when they load, so set before either is imported. Two cores are
# shared with the event loop; their spinning worker threads only slowed matching down.
import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
