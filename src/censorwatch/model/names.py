"""Names for people beside the numbers, for every object the product shows (pure, standard library).

``Names`` holds what the store learned from measurements (the name each network's measurements gave;
a test name and input per target) and answers with ``model.networks`` and ``model.targets``.
``add_names`` puts the names beside the numbers in page data, API items, reports and alert payloads,
the same way everywhere:

- ``asn`` or ``probe_asn`` -> ``network_name`` (None when only the number is known);
- ``asns`` -> ``network_names`` (one per AS number, same order);
- ``target`` or ``domain`` -> ``target_name`` (``X``, ``WireGuard 198.18.5.1:51820``, or the host).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from censorwatch.model.networks import network_name
from censorwatch.model.targets import target_label


@dataclass(frozen=True, slots=True)
class Names:
    #: AS number -> the name its measurements gave (probe_network_name)
    networks: Mapping[str, str] = field(default_factory=dict)
    #: target -> (test name, input) of a measurement of it, for targets that are not host names
    targets: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)

    def network_name(self, asn: str | None) -> str | None:
        return network_name(asn, self.networks.get(asn or ""))

    def target(self, target: str | None, test_name: str | None = None, inp: str | None = None) -> str:
        if test_name is None and target is not None and target in self.targets:
            test_name, inp = self.targets[target]
        return target_label(target, test_name, inp)


def add_names(obj: Any, names: Names) -> Any:
    """``obj`` (dicts and lists, nested) with the name fields of the module doc added in place."""
    if isinstance(obj, list):
        for x in obj:
            add_names(x, names)
    elif isinstance(obj, dict):
        for key in ("asn", "probe_asn"):
            if key in obj and isinstance(obj[key], str | None):
                obj["network_name"] = names.network_name(obj[key])
        if isinstance(obj.get("asns"), list | tuple):
            obj["network_names"] = [names.network_name(a) for a in obj["asns"]]
        for key in ("target", "domain"):
            if key in obj and isinstance(obj[key], str | None):
                test_name, inp = obj.get("test_name"), obj.get("input")
                obj["target_name"] = names.target(obj[key], test_name if isinstance(test_name, str) else None,
                                                  inp if isinstance(inp, str) else None) or None
                break
        for k, v in obj.items():
            if isinstance(v, list | dict) and k not in _OPAQUE:
                add_names(v, names)
    return obj


#: fields holding recorded data (verdict details, raw measurements, log proofs): left as they are
_OPAQUE = frozenset({"details", "raw", "log", "test_keys", "annotations", "methods", "active"})
