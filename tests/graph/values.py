"""Plain values for the property tests of the graph core: the shared hypothesis settings, the
strategies that draw values and tensors, and comparisons that tell 1, 1.0 and True apart.
"""
import json
import math

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

try:
    import torch
except ImportError:  # the tensor properties are skipped, the rest still run
    torch = None

# Deterministic (CI sees the same examples every run) and no example database written
# into the shared checkout; examples are few enough that each file runs in seconds.
# Derandomized examples are seeded from each test's source: renaming a helper a test body
# uses (even a leading-underscore one) changes the examples drawn.
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- plain values ----------------------------------------------------------------------------
ints = st.integers(-1000, 1000)
floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
texts = st.text(max_size=12)
keys = st.text(alphabet="abcxyz_.:{}% ", max_size=4)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(keys, inner, max_size=4)),
                           max_leaves=12)
# Templates for str.format and %: placeholders between pieces that hold no brace or percent.
templates = st.lists(st.one_of(st.sampled_from(["{}", "%s"]), st.text(alphabet="ab -:", max_size=3)),
                     max_size=5).map("".join)
leaf_values = st.one_of(ints, floats, st.booleans(), texts, templates, templates, json_values,
                        st.lists(st.one_of(ints, texts), max_size=4),
                        st.dictionaries(keys, st.one_of(ints, texts), max_size=4))


def same(a, b):
    """Equal and of the same type, all the way down (1 == 1.0 == True would hide a wrong result)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def as_json_arrays(value):
    """The value with its tuples as lists: JSON has arrays only, so that is what comes back."""
    if isinstance(value, (list, tuple)):
        return [as_json_arrays(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json_arrays(v) for k, v in value.items()}
    return value


def is_json_faithful(value):
    """True when JSON gives back this value, tuples as lists (non-str keys and NaN do not survive)."""
    try:
        return same(json.loads(json.dumps(value, allow_nan=False)), as_json_arrays(value))
    except (TypeError, ValueError, RecursionError):
        return False


# -- tensors ---------------------------------------------------------------------------------
@st.composite
def tensors(draw):
    """A CPU tensor of any common dtype and a small shape, empty ones and NaN, inf and -0.0 included."""
    dtype = draw(st.sampled_from(["float32", "float64", "float16", "bfloat16", "int64", "int32", "bool"]))
    shape = draw(st.lists(st.integers(0, 3), max_size=3))
    count = math.prod(shape)
    if dtype == "bool":
        items = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    elif dtype.startswith("int"):
        items = draw(st.lists(st.integers(-2**31, 2**31 - 1), min_size=count, max_size=count))
    else:  # within float16's range, and the values JSON has no literal for
        special = st.sampled_from([math.nan, math.inf, -math.inf, -0.0])
        items = draw(st.lists(st.one_of(st.floats(-6e4, 6e4), special), min_size=count, max_size=count))
    torch_dtype = getattr(torch, dtype)
    value = torch.tensor(items, dtype=torch.float64 if dtype.startswith("float") or dtype == "bfloat16" else None
                         ).to(torch_dtype).reshape(shape) if count else torch.zeros(shape, dtype=torch_dtype)
    return value


def same_value(a, b):
    """same(), and for tensors: dtype, shape and every element, NaN and the sign of zero included
    (not the sign of a NaN: casts may set it either way, and it means nothing)."""
    if torch is not None and isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and bool(((a == b) | (a.isnan() & b.isnan())).all())
                and bool(((a.signbit() == b.signbit()) | a.isnan()).all() if a.is_floating_point() else True))
    return same(a, b)


def _reject_constant(name):
    """json.loads's parse_constant: NaN, Infinity and -Infinity are not strict JSON."""
    raise ValueError(f"to_json wrote {name}, which is not JSON")
