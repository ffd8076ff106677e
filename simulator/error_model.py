"""The simulator's explicit error model: per tier and per schema, how often a worker errs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Literal, get_args

from simulator.corruptions import CorruptionKind, corrupt
from simulator.draws import Draws
from simulator.sections import PromptContext

Tier = Literal["small", "large"]
ERROR_KINDS: tuple[CorruptionKind, ...] = tuple(
    kind for kind in get_args(CorruptionKind) if kind != "implausible"
)
"""Kinds the error model draws, in `CorruptionKind`'s order (the draws depend on it); a kind a
schema does not know never applies to it. `implausible` is a fault (`--faults
implausible_rate`), never a drawn worker error."""
DOCUMENT_SCHEMAS = frozenset(
    {"DocumentClassification", "ExtractedEntities", "ExtractedRelationships"}
)
"""Schemas of the documents workflow, whose default rates are `ErrorModel.document_tiers`."""


@dataclass(frozen=True)
class ErrorRates:
    """How often one tier errs on one schema; each rate is a probability per answer.

    Attributes:
        wrong_label_rate: The answer's label is wrong (intent, approve, promises_refund,
            currency of the entities).
        wrong_field_rate: One field is wrong, or missing (null where the schema allows it).
        invented_value_rate: A value that is not in the text or the facts (an order id, an
            amount, an entity, a relationship) is invented.
        span_shift_rate: An entity's span is off by a few characters (documents).
        wrong_currency_rate: An amount carries the wrong ISO currency (documents).
        misread_amount_rate: An amount's value is misread, two digits swapped (documents).
        dangling_relation_rate: A relationship names an entity that was not extracted
            (documents).
        other_amount_rate: The amount is another amount that does occur in the ticket (the
            price paid instead of the sum asked for), in the entities or the decision.
        approve_replacement_rate: The decider approves a refund although the ticket asks
            for a replacement (applies only when it does).
        flip_legal_rate: The classifier's legal-threat flag is flipped.
        swap_order_rate: The order id is dropped, or swapped for another id the ticket
            names.
        misread_paraphrase_rate: The intent is read as a neighbouring one (a refund asked
            in other words read as a status question, and so on).
    """

    wrong_label_rate: float = 0.0
    wrong_field_rate: float = 0.0
    invented_value_rate: float = 0.0
    span_shift_rate: float = 0.0
    wrong_currency_rate: float = 0.0
    misread_amount_rate: float = 0.0
    dangling_relation_rate: float = 0.0
    other_amount_rate: float = 0.0
    approve_replacement_rate: float = 0.0
    flip_legal_rate: float = 0.0
    swap_order_rate: float = 0.0
    misread_paraphrase_rate: float = 0.0

    def __post_init__(self) -> None:
        for item in fields(self):
            name = item.name
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"error model {name}={value!r}: a rate must be between 0 and 1")

    def rate(self, kind: CorruptionKind) -> float:
        """Return the rate of one error kind."""
        return float(getattr(self, f"{kind}_rate"))


SMALL_DEFAULT = ErrorRates(
    wrong_label_rate=0.06,
    wrong_field_rate=0.05,
    invented_value_rate=0.03,
    other_amount_rate=0.05,
    approve_replacement_rate=0.3,
    flip_legal_rate=0.04,
    swap_order_rate=0.04,
    misread_paraphrase_rate=0.05,
)
LARGE_DEFAULT = ErrorRates(
    wrong_label_rate=0.01,
    wrong_field_rate=0.01,
    invented_value_rate=0.005,
    other_amount_rate=0.02,
    approve_replacement_rate=0.1,
    flip_legal_rate=0.01,
    swap_order_rate=0.01,
    misread_paraphrase_rate=0.01,
)
REALISTIC_KINDS: tuple[CorruptionKind, ...] = (
    "other_amount",
    "approve_replacement",
    "flip_legal",
    "swap_order",
    "misread_paraphrase",
)
"""The realistic kinds: errors a real model makes that stay plausible on their face."""
DOCUMENT_SMALL_DEFAULT = ErrorRates(
    wrong_label_rate=0.06,
    wrong_field_rate=0.05,
    invented_value_rate=0.03,
    span_shift_rate=0.05,
    wrong_currency_rate=0.03,
    misread_amount_rate=0.03,
    dangling_relation_rate=0.04,
)
DOCUMENT_LARGE_DEFAULT = ErrorRates(
    wrong_label_rate=0.01,
    wrong_field_rate=0.01,
    invented_value_rate=0.005,
    span_shift_rate=0.01,
    wrong_currency_rate=0.005,
    misread_amount_rate=0.005,
    dangling_relation_rate=0.01,
)


def _default_tiers() -> Mapping[str, ErrorRates]:
    return MappingProxyType({"small": SMALL_DEFAULT, "large": LARGE_DEFAULT})


def _default_document_tiers() -> Mapping[str, ErrorRates]:
    return MappingProxyType({"small": DOCUMENT_SMALL_DEFAULT, "large": DOCUMENT_LARGE_DEFAULT})


@dataclass(frozen=True)
class ErrorModel:
    """Error rates per tier, with optional overrides per schema, applied after the heuristic.

    Attributes:
        tiers: Rates of each tier ("small", "large") for the support schemas and any schema
            the simulator does not know.
        document_tiers: Rates of each tier for the document schemas (`DOCUMENT_SCHEMAS`).
        schema_overrides: Schema name → tier → rates, replacing the tier's rates for it.
        seed: Seed of the error draws (independent of the fault seed).
        resample_on_retry: When False (default) an identical request gets the same errors each
            time, like a model at temperature 0; when True each arrival draws anew.
    """

    tiers: Mapping[str, ErrorRates] = field(default_factory=_default_tiers)
    document_tiers: Mapping[str, ErrorRates] = field(default_factory=_default_document_tiers)
    schema_overrides: Mapping[str, Mapping[str, ErrorRates]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    seed: int = 0
    resample_on_retry: bool = False

    @classmethod
    def ideal(cls) -> ErrorModel:
        """Return a model that never errs: the heuristics' answers unchanged."""
        none = MappingProxyType({"small": ErrorRates(), "large": ErrorRates()})
        return cls(tiers=none, document_tiers=none)

    def with_seed(self, seed: int) -> ErrorModel:
        """The same rates drawn with another seed (`--error-seed`)."""
        return replace(self, seed=seed)

    def only(self, kinds: Iterable[str], rate: float | None = None) -> ErrorModel:
        """Switch every kind off but `kinds` (each at `rate` on every tier when given).

        Args:
            kinds: The kinds that stay on.
            rate: When given, the rate of each kept kind on every tier and schema.

        Returns:
            A new model.

        Raises:
            ValueError: When a kind is unknown.
        """
        keep = set(kinds)
        unknown = keep - set(ERROR_KINDS)
        if unknown:
            raise ValueError(f"unknown error kinds {sorted(unknown)}; known: {list(ERROR_KINDS)}")

        def filtered(rates: ErrorRates) -> ErrorRates:
            changes = {
                f"{kind}_rate": (rate if rate is not None else rates.rate(kind))
                if kind in keep
                else 0.0
                for kind in ERROR_KINDS
            }
            return replace(rates, **changes)

        return replace(
            self,
            tiers=MappingProxyType({t: filtered(r) for t, r in self.tiers.items()}),
            document_tiers=MappingProxyType(
                {t: filtered(r) for t, r in self.document_tiers.items()}
            ),
            schema_overrides=MappingProxyType(
                {
                    name: MappingProxyType({t: filtered(r) for t, r in tiers.items()})
                    for name, tiers in self.schema_overrides.items()
                }
            ),
        )

    def rates_for(self, tier: str, schema_name: str | None) -> ErrorRates:
        """Return the rates for a tier and a schema (the override when one is set)."""
        override = self.schema_overrides.get(schema_name or "", {}).get(tier)
        if override is not None:
            return override
        tiers = self.document_tiers if schema_name in DOCUMENT_SCHEMAS else self.tiers
        return tiers.get(tier, ErrorRates())

    def apply(
        self,
        schema_name: str,
        tier: str,
        value: Any,
        ctx: PromptContext,
        draws: Draws,
    ) -> tuple[Any, list[CorruptionKind]]:
        """Apply the error model to a heuristic answer.

        Args:
            schema_name: The schema of the answer.
            tier: The tier of the requested model.
            value: The heuristic answer (left untouched).
            ctx: The parsed prompt.
            draws: The request's draws; only its digest (and arrival count when
                `resample_on_retry`) is used, with this model's seed.

        Returns:
            The possibly corrupted answer and the error kinds applied to it.
        """
        rates = self.rates_for(tier, schema_name)
        own = Draws(self.seed, draws.digest, draws.n if self.resample_on_retry else 0)
        applied: list[CorruptionKind] = []
        for kind in ERROR_KINDS:
            if not own.chance(f"error:{kind}", rates.rate(kind)):
                continue
            corrupted = corrupt(schema_name, kind, value, ctx, own)
            if corrupted is not None:
                value = corrupted
                applied.append(kind)
        return value, applied
