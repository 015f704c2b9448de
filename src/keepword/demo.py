"""``keepword demo``: build both example deployments and show what keepword does with them.

Each example folder (``examples/<name>/``) holds ``policy.yaml``, ``datasets/``
and ``generate.py`` (``build(urls, size=...)`` and ``default_urls(data_dir)``).
The demo generates its SQLite databases into a work folder, checks the
deployment against them, writes the privacy notice and record of processing,
and collects a summary a face can print.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from keepword.check import CheckReport, run_check
from keepword.decide.decider import Decider
from keepword.demo_stories import STORIES, requests_story
from keepword.deployment import Deployment, load_deployment
from keepword.errors import KeepwordError
from keepword.notice import render_notice
from keepword.ropa import ropa_csv, ropa_json
from keepword.runtime import Keepword
from keepword.settings import load_settings

EXAMPLES = ("ikcon", "iko")


@dataclass
class CompanyDemo:
    key: str
    name: str
    folder: Path
    data_dir: Path
    rows: dict[str, int]
    people: dict[str, dict[str, str]]
    report: CheckReport
    files: dict[str, Path] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)  # later steps add theirs

    def kept(self) -> bool:
        """Every scene of every story ended as the policy promises."""
        return all(scene["kept"] for story in ("consent", "requests")
                   for scene in self.sections.get(story, []))

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "data_dir": str(self.data_dir),
                "rows": self.rows, "check": self.report.as_dict(),
                "files": {k: str(v) for k, v in self.files.items()},
                "sections": self.sections}


@dataclass
class DemoContext:
    """What a demo step acts on: the loaded deployment, its summary, the runtime."""

    deployment: Deployment
    company: CompanyDemo
    runtime: Keepword


Step = Callable[[DemoContext], None]


def demo_runtime(out: Path) -> Keepword:
    """A fresh control store in the work folder (the key is kept across runs)."""
    home = out / ".keepword"
    for suffix in ("", "-wal", "-shm"):
        (home / f"control.db{suffix}").unlink(missing_ok=True)
    return Keepword(load_settings(home=home, control_url=None))


def consent_step(ctx: DemoContext) -> None:
    """Act out the company's consent story against the decision point."""
    story = STORIES.get(ctx.company.key)
    if story is None:
        return
    decider = Decider(ctx.deployment.policy, ctx.runtime)
    ctx.company.sections["consent"] = [s.as_dict() for s in story(decider,
                                                                  ctx.company.people)]


def examples_root() -> Path:
    """The examples shipped in the wheel, else those of the source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_examples", here.parents[1] / "examples"):
        if (candidate / EXAMPLES[0] / "policy.yaml").exists():
            return candidate
    raise KeepwordError("the example deployments are not installed with this keepword")


def load_generator(folder: Path) -> ModuleType:
    """Import ``generate.py`` of an example by path (examples are not a package)."""
    name = f"keepword_example_{folder.name}"
    spec = importlib.util.spec_from_file_location(name, folder / "generate.py")
    if spec is None or spec.loader is None:
        raise KeepwordError(f"example {folder.name!r} has no generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def write_documents(dep: Deployment, out: Path) -> dict[str, Path]:
    """The privacy notice (Markdown, HTML) and the Art. 30 record (CSV, JSON)."""
    policy, version = dep.policy.policy, dep.policy.version
    files = {"notice.md": render_notice(policy, "md", version=version),
             "notice.html": render_notice(policy, "html", version=version),
             "ropa.csv": ropa_csv(policy), "ropa.json": ropa_json(policy)}
    written = {}
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written[name] = path
    return written


def requests_step(ctx: DemoContext) -> None:
    """An access export and erasures with their proof, on the company's planted people."""
    ctx.company.sections["requests"] = requests_story(ctx.runtime, ctx.deployment,
                                                      ctx.company.key, ctx.company.people)


def run_company(key: str, out: Path, runtime: Keepword, *, size: int,
                steps: list[Step] | None = None) -> CompanyDemo:
    folder = examples_root() / key
    data_dir = out / key
    data_dir.mkdir(parents=True, exist_ok=True)
    generator = load_generator(folder)
    manifest = generator.build(generator.default_urls(data_dir), size=size)
    # The demo runs on its own SQLite files, whatever the shell's environment says.
    environ = {k: v for k, v in os.environ.items() if not k.startswith(key.upper() + "_")}
    dep = load_deployment(folder, environ=environ, data_dir=data_dir)
    try:
        report = run_check(dep, count_rows=True)
        demo = CompanyDemo(key, dep.name, folder, data_dir, dict(manifest.rows),
                           dict(manifest.people), report)
        demo.files = write_documents(dep, data_dir)
        for step in steps or []:
            step(DemoContext(dep, demo, runtime))
        return demo
    finally:
        dep.close()
