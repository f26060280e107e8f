"""What the facade's services share: one store, one vault, one clock, the options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.integrations.credentials import Vault
from core.integrations.repository import IntegrationRepo
from core.options import Options
from core.paths import side_file
from core.storage import AtomicJSONStorage
from core.timeutil import Clock


@dataclass
class CoreContext:
    db_path: Path
    store: AtomicJSONStorage
    vault: Vault
    clock: Clock
    environ: Mapping[str, str]
    repo: IntegrationRepo
    options: Options

    def side_path(self, part: str) -> Path:
        """A sibling file of the database (`byok.health.json`, ...), for a service's own data."""
        return side_file(self.db_path, part)
