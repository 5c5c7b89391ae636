"""Module: a trainable workflow that knows its parameters and can save and load them."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

from . import files
from .bundle import _CODE_KEY, BoundBundle, Bundle
from .files import FORMAT, VERSION  # noqa: F401 - the module file format, named where users look
from .kinds import is_tensor
from .nodes import Parameter


class Module:
    """Base class for trainable workflows, like ``torch.nn.Module``.

    Parameters are found in attributes, in lists, tuples and dicts held by attributes, in
    nested modules, and as the code of trainable bundles: methods (one per instance) and
    bundled functions held in attributes (``self.fn = bundle(trainable=True)(g)``).
    """

    def __init__(self) -> None:  # keeps ``super().__init__()`` in subclasses valid
        pass

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter) and value._auto_named:
            value.name, value._auto_named = name, False
        object.__setattr__(self, name, value)

    # -- parameters --------------------------------------------------------------------
    def named_parameters(self) -> List[Tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter reachable twice is listed once."""
        found: List[Tuple[str, Parameter]] = []
        _collect("", self, found, set(), set())
        return found

    def parameters(self) -> List[Parameter]:
        return [p for _, p in self.named_parameters()]

    def state_dict(self) -> Dict[str, Any]:
        """Name -> a copy of the current value (tensors detached and cloned)."""
        return {name: (p.data.detach().clone() if is_tensor(p.data) else copy.deepcopy(p.data))
                for name, p in self._parameters_by_name().items()}

    def changed_since(self, snapshot: Dict[str, Any]) -> List[str]:
        """Names of the parameters whose value differs from a ``state_dict()`` taken earlier
        (each compared by its kind: tensors element by element)."""
        return [name for name, p in self._parameters_by_name().items()
                if name not in snapshot or not p.spec.same(p.data, snapshot[name])]

    def _parameters_by_name(self) -> Dict[str, Parameter]:
        """Name -> parameter, for the files and state dicts keyed by name. A dict key holding a dot
        can spell another parameter's path; two parameters under one name would share one entry
        and one of them would silently never load, so that is an error."""
        params: Dict[str, Parameter] = {}
        for name, p in self.named_parameters():
            if name in params:
                raise ValueError(f"two parameters of {type(self).__name__} are both named {name!r} "
                                 "(a dict key with a dot in it?); state_dict, save and load need distinct names")
            params[name] = p
        return params

    def load_state_dict(self, state: Dict[str, Any], strict: bool = True) -> None:
        """Validate every value first, then assign all in place; on any error nothing changes."""
        files.assign_values(self._parameters_by_name(), state, strict, type(self).__name__)

    # -- files -------------------------------------------------------------------------
    def save(self, path: Union[str, Path]) -> Path:
        """Write every parameter to a JSON file, atomically."""
        return files.save_parameters(self._parameters_by_name(), path, type(self).__qualname__)

    def described(self) -> Dict[str, Any]:
        """What ``save`` writes besides the values: the class and each parameter's kind and runner."""
        return {"module": type(self).__qualname__, "parameters": files.describe(self._parameters_by_name())}

    def load(self, path: Union[str, Path]) -> None:
        """Load a file written by save() into the existing parameter objects (so optimizers
        built before keep working). A mismatch raises ValueError and changes nothing."""
        files.load_parameters(self._parameters_by_name(), path, type(self).__name__)


def _collect(prefix: str, value: Any, found: list, seen_params: set, seen_containers: set) -> None:
    if isinstance(value, Parameter):
        if value not in seen_params:
            seen_params.add(value)
            if value._auto_named:
                value.name, value._auto_named = prefix.rstrip("."), False
            found.append((prefix.rstrip("."), value))
        return
    if isinstance(value, (Bundle, BoundBundle)):  # a trainable bundle held as an attribute: its code
        if value.trainable:
            _collect(prefix, value.parameter, found, seen_params, seen_containers)
        return
    if not isinstance(value, (Module, list, tuple, dict)) or id(value) in seen_containers:
        return
    seen_containers.add(id(value))
    if isinstance(value, Module):
        for name, attr in vars(value).items():
            if not name.startswith(_CODE_KEY):  # code slots are reached through their methods below
                _collect(f"{prefix}{name}.", attr, found, seen_params, seen_containers)
        for name, method in _trainable_methods(type(value)):
            _collect(f"{prefix}{name}.", method.code_parameter(value), found, seen_params, seen_containers)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(f"{prefix}{key}.", item, found, seen_params, seen_containers)
    else:
        for index, item in enumerate(value):
            _collect(f"{prefix}{index}.", item, found, seen_params, seen_containers)


def _trainable_methods(cls: type) -> List[Tuple[str, Bundle]]:
    methods: Dict[str, Bundle] = {}
    for klass in reversed(cls.__mro__):
        for name, attr in vars(klass).items():
            if isinstance(attr, Bundle):
                methods[name] = attr
            elif name in methods:
                del methods[name]  # overridden by a plain attribute
    return [(name, b) for name, b in methods.items() if b.trainable]
