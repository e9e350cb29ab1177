"""Hypothesis strategies shared by the property tests."""

import numpy as np
from hypothesis import strategies as st


@st.composite
def problems(draw):
    """A random input x (length, in), filters w (kernel, in, out) and a stride."""
    length, kernel, stride = draw(st.integers(1, 6)), draw(st.integers(1, 9)), draw(st.integers(1, 6))
    cin, cout = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = rng.normal(size=(length, cin)).astype(np.float32)
    w = rng.normal(size=(kernel, cin, cout)).astype(np.float32)
    return x, w, stride
