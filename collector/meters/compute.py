"""Computed fields as data: a value made from other fields of the same uplink, written as a
small expression that is parsed and checked at load time and never executed as code.

    Current1 * Multiplier1                  a payload-given scale (Netvox R718N3)
    bytes.HCHC.value + bytes.HCHP.value     a sum of registers (Linky off-peak + peak)
    EAST or HCHC + HCHP or BASE             alternatives: the first whose operands are all
                                            present (Linky standard mode, then historic)

Grammar: `alternative (" or " alternative)*`, an alternative is a sum (`+`) of products
(`*`) of operands, an operand a number or a path into the decoded payload (dots and list
indices: `bytes.counterValues[0]`). No subtraction or division: a difference of registers
can go negative, and a scale is a product with a constant.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

_PATH_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*|\[\d+\])*$")
_NUMBER_RE = re.compile(r"^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@functools.lru_cache(maxsize=4096)
def _steps(path: str) -> tuple[str | int, ...]:
    return tuple(name or int(index) for name, index in _STEP.findall(path))


def lookup(fields: Any, path: str) -> Any:
    """Value at a dotted path with list indices, or None when any step is absent."""
    cur: Any = fields
    for step in _steps(path):
        if isinstance(step, str):
            if not isinstance(cur, dict) or step not in cur:
                return None
            cur = cur[step]
        else:
            if not isinstance(cur, list) or step >= len(cur):
                return None
            cur = cur[step]
    return cur


@dataclass(frozen=True)
class Outcome:
    """A number, or why there is none: `missing` (an operand absent) or `wrong_type` (an
    operand that is not a number, e.g. a string or a boolean)."""

    value: float | None
    problem: str | None = None
    detail: str = ""


Product = tuple[float | str, ...]  # constants and paths multiplied
Alternative = tuple[Product, ...]  # products summed


@dataclass(frozen=True)
class Expr:
    text: str
    alternatives: tuple[Alternative, ...]

    @property
    def paths(self) -> list[str]:
        return [x for alt in self.alternatives for prod in alt for x in prod if isinstance(x, str)]

    def evaluate(self, fields: dict[str, Any]) -> Outcome:
        first_problem: Outcome | None = None
        for alt in self.alternatives:
            out = _evaluate(alt, fields)
            if out.value is not None:
                return out
            # a present operand of the wrong type says more than an absent one
            if first_problem is None or (
                out.problem == "wrong_type" and first_problem.problem != "wrong_type"
            ):
                first_problem = out
        assert first_problem is not None
        return first_problem


def _evaluate(alt: Alternative, fields: dict[str, Any]) -> Outcome:
    total = 0.0
    for prod in alt:
        x = 1.0
        for op in prod:
            if isinstance(op, float):
                x *= op
                continue
            raw = lookup(fields, op)
            if raw is None:
                return Outcome(None, "missing", f"{op} absent")
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                return Outcome(None, "wrong_type", f"{op} is {type(raw).__name__} {raw!r:.40}")
            if not math.isfinite(raw):
                return Outcome(None, "wrong_type", f"{op} is {raw}")
            x *= float(raw)
        total += x
    return Outcome(total)


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Expr:
    """The expression, or ValueError saying what is wrong with it (cached: profiles parse
    the same few expressions for every uplink)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty expression")
    alts: list[Alternative] = []
    for alt_text in re.split(r"\s+or\s+", text.strip()):
        prods: list[Product] = []
        for prod_text in alt_text.split("+"):
            ops: list[float | str] = []
            for op in prod_text.split("*"):
                op = op.strip()
                if not op:
                    raise ValueError(f"{text!r}: an operator without an operand")
                if _NUMBER_RE.match(op):
                    ops.append(float(op))
                elif _PATH_RE.match(op) and op != "or":
                    ops.append(op)
                else:
                    raise ValueError(
                        f"{text!r}: {op!r} is neither a number nor a payload path "
                        "(only +, * and 'or' are allowed)"
                    )
            if not any(isinstance(o, str) for o in ops):
                raise ValueError(f"{text!r}: {prod_text.strip()!r} names no payload field")
            prods.append(tuple(ops))
        alts.append(tuple(prods))
    return Expr(text.strip(), tuple(alts))


def path_expr(path: str) -> Expr:
    """A plain path as an expression of one operand (a path is not checked further: the
    existing profiles use any key the codec emits)."""
    return Expr(path, (((path,),),))
