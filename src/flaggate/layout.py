"""Where flaggate's files live in a repository, and what may not be there.

Flag files sit below ``Settings.flagsPath``, policy files below ``policies/``; both must be
regular YAML files that git hands out unchanged. These rules are checked on what would land
(``flaggate github``, ``flaggate plan``) and on a working tree (``flaggate validate``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from flaggate.errors import Problem
from flaggate.git import Git
from flaggate.model.load import POLICY_API_VERSIONS, POLICY_KINDS, is_yaml
from flaggate.yamlio import YamlError, load_documents

ATTRIBUTES_FILE = ".gitattributes"

_DOCUMENT_SUFFIXES = (".yaml", ".yml")

# Attributes that make git hand out other bytes than it stores (checkout, archive, export).
_ALWAYS_REWRITING = frozenset({"export-subst", "export-ignore", "ident", "filter"})
_ENCODING = "working-tree-encoding"
_OFF = frozenset({"unset", "unspecified"})
_BUILTIN_MERGE = frozenset({"set", "unset", "unspecified", "text", "binary", "union"})
_BUILTIN_DIFF = frozenset(
    {
        *("set", "unset", "unspecified", "ada", "bash", "bibtex", "cpp", "csharp", "css"),
        *("dts", "elixir", "fortran", "fountain", "golang", "html", "java", "kotlin"),
        *("markdown", "matlab", "objc", "pascal", "perl", "php", "python", "ruby", "rust"),
        *("scheme", "tex"),
    }
)


@dataclass(frozen=True)
class Layout:
    """The flag and policy folders of a repository (relative, without trailing slashes)."""

    flags_dir: str
    policies_dir: str
    attributes_file: str = ATTRIBUTES_FILE

    def is_flag_dir_file(self, path: str) -> bool:
        """Whether ``path`` lies below the flag folder (or is it)."""
        return _below(path, self.flags_dir)

    def is_flag(self, path: str) -> bool:
        """Whether ``path`` is a flag file flaggate reads."""
        return _below(path, self.flags_dir) and is_yaml(path)

    def is_policy(self, path: str) -> bool:
        """Whether ``path`` lies below the policy folder (or is it)."""
        return _below(path, self.policies_dir)

    def is_attributes(self, path: str) -> bool:
        """Whether ``path`` is a ``.gitattributes`` file (anywhere: all of them apply)."""
        return PurePosixPath(path).name == self.attributes_file

    def is_governed(self, path: str) -> bool:
        """Flag, policy and attribute files: what a change to is judged by the policy."""
        return self.is_flag_dir_file(path) or self.is_policy(path) or self.is_attributes(path)

    def may_hold_documents(self, path: str) -> bool:
        """A YAML file outside the folders, which must not hold flag or policy documents."""
        return not self.is_governed(path) and path.lower().endswith(_DOCUMENT_SUFFIXES)

    def case_problems(self, path: str) -> list[Problem]:
        """``Flags/x.yaml``: a path that reaches a folder only when case is ignored, as on
        macOS and Windows checkouts."""
        problems = []
        for folder in (self.flags_dir, self.policies_dir):
            if not _below(path, folder) and _below(path.lower(), folder.lower()):
                problems.append(
                    Problem(
                        path,
                        None,
                        f"differs from {folder}/ only by case: flaggate reads {folder}/ "
                        "exactly (rename it)",
                    )
                )
        return problems

    def not_yaml(self, path: str) -> Problem:
        """The problem of a file below the flag folder that is not a ``.yaml``/``.yml`` file."""
        return Problem(
            path,
            None,
            f"is not a .yaml or .yml file: only flag files belong below {self.flags_dir}/",
        )

    def misplaced(self, path: str, kind: str) -> str | None:
        """Where a document of ``kind`` belongs, when ``path`` is not there."""
        if kind == "FeatureFlag" and not self.is_flag(path):
            return self.flags_dir
        if kind in POLICY_KINDS and not self.is_policy(path):
            return self.policies_dir
        return None


def _below(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def misplaced_documents(layout: Layout, files: Mapping[str, bytes]) -> list[Problem]:
    """Flag or policy documents in files flaggate never reads (e.g. ``flag/x.yaml``)."""
    problems = []
    for path, content in sorted(files.items()):
        if b"kind" not in content:
            continue
        try:
            documents = load_documents(content)
        except YamlError:
            continue  # not a flaggate file, whatever it is
        for doc in documents:
            data = doc.data
            if not isinstance(data, dict):
                continue
            kind = data.get("kind")
            if not isinstance(kind, str):
                continue
            if kind in POLICY_KINDS and data.get("apiVersion") not in POLICY_API_VERSIONS:
                continue
            home = layout.misplaced(path, kind)
            if home is not None:
                problems.append(
                    Problem(
                        path,
                        doc.line,
                        f"a {kind} document outside {home}/ is never read: move it below {home}/",
                    )
                )
    return problems


def attribute_problems(git: Git, treeish: str | None, paths: Sequence[str]) -> list[Problem]:
    """Flag and policy paths with a git attribute that changes their content on checkout or
    export, as the ``.gitattributes`` files of ``treeish`` (None: the working tree) set them."""
    problems = []
    for path, attributes in sorted(git.attributes(treeish, paths).items()):
        for name, value in sorted(attributes.items()):
            if rewrites(name, value):
                shown = name if value == "set" else f"{name}={value}"
                problems.append(
                    Problem(
                        path,
                        None,
                        f"git attribute {shown} makes git serve other content than it stores "
                        f"(remove it from .gitattributes for flag and policy files)",
                    )
                )
    return problems


def rewrites(name: str, value: str) -> bool:
    """Whether attribute ``name`` with ``value`` can change a file's content on checkout or
    export, or what reviewers see of it."""
    if value in _OFF:
        return False
    if name in _ALWAYS_REWRITING or name == _ENCODING:
        return True
    if name == "merge":
        return value not in _BUILTIN_MERGE
    if name == "diff":
        return value not in _BUILTIN_DIFF
    return False
