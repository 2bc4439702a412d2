"""Rule registry. One module per rule (``lwNNN_kebab_name.py``), each holding the rule's
code, name, kind, documentation (What it does / Why is this bad? / Example / Use instead),
the VALID and INVALID examples that the test suite runs, and, for static rules, the check.

A check receives the one linked program model (:class:`lockwatch.static.model.ProgramModel`)
and yields :class:`lockwatch.findings.Finding`; it never parses source or resolves names itself.
Runtime detectors build findings with the same codes through :func:`get`.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Iterable

from lockwatch.findings import Finding


@dataclass(frozen=True)
class Example:
    """A little program: one source (module ``example``) or several modules by relative path.

    In INVALID examples every line that must carry a finding of the rule ends with the
    comment ``# expect`` (optionally ``# expect: LW101`` to name another code); the test
    suite checks that the rule's primary locations are exactly those lines. VALID examples
    must produce no finding of the rule at all.
    """

    files: dict[str, str]

    @classmethod
    def single(cls, source: str) -> "Example":
        return cls({"example.py": source})


@dataclass(frozen=True)
class Rule:
    code: str            # stable short name, e.g. "LW101"
    name: str            # kebab-case, e.g. "lock-order-cycle"
    kind: str            # SPEC kind slug
    severity: str        # default severity
    summary: str         # one line, imperative
    what: str            # "What it does"
    why: str             # "Why is this bad?"
    example: str         # bad code shown in docs
    use_instead: str     # good code shown in docs
    static: bool = True  # has a static check
    runtime: bool = False  # produced by the runtime tracer
    # Off unless selected by code, prefix or ALL (as ruff keeps noisy rules out of the
    # default set): for static checks whose precision on real code is not yet good enough.
    default: bool = True
    valid: tuple[Example, ...] = ()
    invalid: tuple[Example, ...] = ()
    check: Callable[..., Iterable[Finding]] | None = field(default=None, compare=False)

    def doc(self) -> str:
        """The text ``lockwatch rule CODE`` prints (markdown, as ruff does)."""
        halves = ", ".join(h for h, on in (("static", self.static), ("runtime", self.runtime)) if on)
        opt_in = "" if self.default else " · opt-in: select it (`--select " + self.code + "`) to run it"
        return (
            f"# {self.name} ({self.code})\n\n"
            f"Kind: `{self.kind}` · default severity: {self.severity} · found by: {halves}{opt_in}\n\n"
            f"## What it does\n{self.what.strip()}\n\n"
            f"## Why is this bad?\n{self.why.strip()}\n\n"
            f"## Example\n```python\n{self.example.strip()}\n```\n\n"
            f"## Use instead\n```python\n{self.use_instead.strip()}\n```\n"
        )


_REGISTRY: dict[str, Rule] | None = None


def all_rules() -> list[Rule]:
    """Every rule, sorted by code. Rule modules are found by scanning this package, so
    adding a rule is adding one file."""
    global _REGISTRY
    if _REGISTRY is None:
        reg: dict[str, Rule] = {}
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("lw"):
                continue
            mod = importlib.import_module(f"{__name__}.{info.name}")
            rule = getattr(mod, "RULE", None)
            if rule is None:
                continue
            if rule.code in reg:
                raise RuntimeError(f"duplicate rule code {rule.code}")
            reg[rule.code] = rule
        _REGISTRY = dict(sorted(reg.items()))
    return list(_REGISTRY.values())


def get(code_or_name: str) -> Rule:
    key = code_or_name.strip()
    for r in all_rules():
        if r.code.lower() == key.lower() or r.name == key:
            return r
    raise KeyError(code_or_name)
