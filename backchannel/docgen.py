"""Generate docs/configuration.md from the settings declaration.

`python -m backchannel.docgen > docs/configuration.md` (or `make docs`); a test
fails when the committed page differs from this output.
"""

from __future__ import annotations

import typing
from pathlib import Path

from pydantic import SecretStr

from backchannel.config import CONFIG_FILE_ENV, Settings

INTRO = f"""# Configuration

Every setting is declared once, in `backchannel/config.py`; this page is generated from that
declaration (`make docs`), and a test keeps it in step.

Where a value comes from, strongest first:

1. command-line flags of `backchannel serve` and friends (`--host`, `--port`, `--data-dir`,
   `--database-url`);
2. environment variables `BACKCHANNEL_<NAME>` (upper case);
3. a TOML file named by `{CONFIG_FILE_ENV}`, with the names below as keys
   (for example `max_group_size = 50`); unknown keys are refused;
4. the defaults below.

`database_url` is a secret: it is masked in the settings' `repr` and never logged. With no
`database_url`, Backchannel uses SQLite at `<data_dir>/backchannel.db`.
"""


def _type_name(annotation: object) -> str:
    if annotation is SecretStr:
        return "secret string"
    if annotation is Path:
        return "path"
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    args = typing.get_args(annotation)
    if args and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return " or ".join(_type_name(a) for a in inner) + " (optional)"
    return getattr(annotation, "__name__", str(annotation))


def _default(value: object) -> str:
    if value is None:
        return "—"
    return f"`{value}`"


def render() -> str:
    rows = [
        "| setting | environment variable | type | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `{name}` | `BACKCHANNEL_{name.upper()}` | {_type_name(field.annotation)} "
            f"| {_default(field.default)} | {description} |"
        )
    return INTRO + "\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(render(), end="")
