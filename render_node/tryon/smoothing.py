"""The One Euro filter (Casiez, Roussel, Vogel, CHI 2012): an adaptive low-pass filter for noisy live signals.

At low speeds it smooths hard (no jitter while the customer holds still); as the signal moves faster the cutoff
rises so the product keeps up with the hand or face (little lag). Vectorised: one filter smooths a whole array
of landmark coordinates at once.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def _alpha(cutoff_hz: float, dt_s: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """Smooths arrays of one fixed shape sampled at irregular times.

    `min_cutoff_hz`: cutoff at rest (lower = smoother, more lag); `beta`: how fast the cutoff rises with speed
    (in the signal's units per second); `d_cutoff_hz`: cutoff of the speed estimate.
    """

    def __init__(self, min_cutoff_hz: float = 1.0, beta: float = 0.05, d_cutoff_hz: float = 1.0) -> None:
        if min_cutoff_hz <= 0 or d_cutoff_hz <= 0 or beta < 0:
            raise ValueError("cutoffs must be positive and beta non-negative")
        self.min_cutoff_hz = min_cutoff_hz
        self.beta = beta
        self.d_cutoff_hz = d_cutoff_hz
        self._x: F64 | None = None
        self._dx: F64 | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = None
        self._t = None

    def __call__(self, x: F64, t_s: float) -> F64:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or self._dx is None or self._x.shape != x.shape or t_s <= self._t:
            if self._x is not None and self._t is not None and self._x.shape == x.shape and t_s <= self._t:
                return self._x  # a repeated or out-of-order timestamp: keep the last estimate
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t_s
            return x
        dt = t_s - self._t
        dx = (x - self._x) / dt
        a_d = _alpha(self.d_cutoff_hz, dt)
        dx_hat = self._dx + a_d * (dx - self._dx)
        cutoff = self.min_cutoff_hz + self.beta * np.abs(dx_hat)
        tau = 1.0 / (2 * math.pi * cutoff)
        a = 1.0 / (1.0 + tau / dt)
        x_hat = self._x + a * (x - self._x)
        self._x, self._dx, self._t = x_hat, dx_hat, t_s
        return x_hat


def orthonormalise(m: F64) -> F64:
    """The rotation matrix nearest to `m` (after element-wise smoothing of rotations)."""
    u, _s, vt = np.linalg.svd(m)
    r: F64 = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    return r
