"""C4: when a client is ready to be seen, as a checklist. Pure: the caller loads the facts.

A session with a client cannot be confirmed until every item is done; every client response shows
the list, so front ends can tell the client (and the provider) what is missing.
"""

from dataclasses import dataclass
from typing import Literal

# The forms every client acknowledges; a new version needs a new acknowledgement.
CURRENT_FORM_VERSIONS = {"billing_policy": "2026-01", "privacy_policy": "2026-01"}

Item = Literal["account_verified", "insurance_on_file", "billing_method_on_file", "billing_policy_acknowledged", "privacy_policy_acknowledged"]


@dataclass(frozen=True, slots=True)
class ReadinessFacts:
    account_verified: bool
    billing_type: str  # "insurance" | "private_pay"
    has_insurance: bool
    has_billing_method: bool
    acknowledged: frozenset[tuple[str, str]]  # (document, version)


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    item: Item
    done: bool


def checklist(facts: ReadinessFacts) -> list[ChecklistItem]:
    items: list[ChecklistItem] = [ChecklistItem("account_verified", facts.account_verified)]
    if facts.billing_type == "insurance":  # private pay needs no insurance on file
        items.append(ChecklistItem("insurance_on_file", facts.has_insurance))
    items.append(ChecklistItem("billing_method_on_file", facts.has_billing_method))
    for document, version in CURRENT_FORM_VERSIONS.items():
        items.append(ChecklistItem(f"{document}_acknowledged", (document, version) in facts.acknowledged))  # type: ignore[arg-type]
    return items


def missing(facts: ReadinessFacts) -> list[Item]:
    return [entry.item for entry in checklist(facts) if not entry.done]


def is_ready(facts: ReadinessFacts) -> bool:
    return not missing(facts)
