"""``keepword datamap import-fides|export-fides``: exchange data maps with Fides."""

from __future__ import annotations

from pathlib import Path

import typer

from keepword.cli.common import (
    JsonOption,
    console,
    err_console,
    print_json,
    report_errors,
    write_output,
)
from keepword.datamap import StoreKind, load_datamap
from keepword.datamap.fides import export_fides_yaml, import_fides_file, write_datasets
from keepword.errors import InputError

datamap_app = typer.Typer(help="The data map: where personal data lives.",
                          no_args_is_help=True)

FidesFileArgument = typer.Argument(..., help="A Fides dataset YAML file.")
DatasetsArgument = typer.Argument(..., help="A datasets/ folder (or one dataset file).")
ImportOutOption = typer.Option(..., "--out", help="Folder to write datasets/<key>.yaml into.")
ExportOutOption = typer.Option(None, "--out", help="File to write (default: standard output).")
KindOption = typer.Option("sqlite", "--store-kind",
                          help="Store kind for datasets whose file has no keepword store.")


@datamap_app.command("import-fides")
@report_errors
def import_fides(fides_file: Path = FidesFileArgument, out: Path = ImportOutOption,
                 store_kind: StoreKind = KindOption, as_json: bool = JsonOption) -> None:
    """Convert Fides datasets to keepword dataset files, one per dataset."""
    result = import_fides_file(fides_file, default_kind=store_kind)
    try:
        written = write_datasets(result.datasets, out)
    except OSError as exc:
        raise InputError.at(f"cannot write the datasets ({type(exc).__name__})", out) from None
    if as_json:
        print_json({"written": [str(p) for p in written],
                    "warnings": [w.as_dict() for w in result.warnings]})
        return
    for warning in result.warnings:
        err_console.print(f"[yellow]warning[/] {warning}", highlight=False, soft_wrap=True)
    for path in written:
        console.print(f"wrote {path}", highlight=False)


@datamap_app.command("export-fides")
@report_errors
def export_fides(datasets: Path = DatasetsArgument, out: Path | None = ExportOutOption) -> None:
    """Write the data map as one Fides dataset YAML file (keepword notes under meta)."""
    dm = load_datamap(datasets)
    write_output(export_fides_yaml(loaded.dataset for loaded in dm.datasets.values()), out)


def register(app: typer.Typer) -> None:
    app.add_typer(datamap_app, name="datamap")
