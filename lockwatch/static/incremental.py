"""A program's analysis kept between runs, for a resident process (``lockwatch daemon``).

``Analysis.full`` runs the pipeline's analysis stages (link -> graph -> checks -> suppressions
-> selection) on a set of module summaries and keeps what it built; ``Analysis.update`` gives
the analysis of a new set of summaries (some modules edited, added or removed). The report of
``update`` must always equal the report ``full`` would give on the same summaries: a resident
process that answered differently from a plain scan would be a second tool to trust.

This first version re-analyses the whole program on every update (``stats["mode"] ==
"full"``); re-linking only what an edit reaches is the next step (docs/scale.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lockwatch.config import Config
from lockwatch.findings import InputError, Report
from lockwatch.static.summary import ModuleSummary


@dataclass
class Analysis:
    summaries: dict[str, ModuleSummary]
    config: Config
    errors: list[InputError]
    report: Report
    model: object = None              # the ProgramModel the report was made from
    stats: dict = field(default_factory=dict)

    @classmethod
    def full(cls, summaries: dict[str, ModuleSummary], config: Config,
             errors: list[InputError] | None = None) -> Analysis:
        from lockwatch.static.engine import analyse_summaries_with_model, gc_paused

        t = time.perf_counter()
        with gc_paused():
            model, report = analyse_summaries_with_model(dict(summaries), config, list(errors or []))
        return cls(dict(summaries), config, list(errors or []), report, model,
                   {"mode": "full", "seconds": time.perf_counter() - t,
                    "modules": len(summaries)})

    def update(self, summaries: dict[str, ModuleSummary],
               errors: list[InputError] | None = None) -> Analysis:
        """The analysis of ``summaries`` (the whole program as it is now), made from this
        one where that is known to give the same report, else from scratch."""
        return Analysis.full(summaries, self.config, errors)

    def changed_modules(self, summaries: dict[str, ModuleSummary]) -> set[str]:
        """Modules added, removed, or whose summary is not the one this analysis used."""
        old = self.summaries
        changed = {m for m in summaries.keys() ^ old.keys()}
        changed |= {m for m in summaries.keys() & old.keys() if summaries[m] is not old[m]
                    and summaries[m] != old[m]}
        return changed
