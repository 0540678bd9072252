import uuid
from collections import Counter
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.contact import us_state
from app.core.schemas import MULTILINE, Strict, checked, omittable
from app.providers import validation

Text50 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text500 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


_URL = TypeAdapter(HttpUrl)


def _https(raw: str) -> str:
    try:
        url = _URL.validate_python(raw)
    except ValidationError:
        raise ValueError("not a valid URL") from None
    if url.scheme != "https":
        raise ValueError("the photo must be served over https")
    text = str(url)
    if len(text) > 500:
        raise ValueError("the URL is longer than 500 characters")
    return text


HttpsUrl = Annotated[str, Field(json_schema_extra={"format": "uri"}), checked(_https, "https_url")]
Deduped = checked(validation.dedupe, "list")


# --- profile --------------------------------------------------------------------------------------


class Education(Strict):
    degree: Text200 = Field(description="e.g. MSW, PsyD")
    institution: Text200
    year: int | None = Field(None, ge=1900, le=2100, description="Year completed.")


class Demographics(BaseModel):
    gender: str | None = None
    pronouns: str | None = None
    sexual_orientation: str | None = None
    ethnicity: list[str] = Field(default_factory=list)
    faith: str | None = None


class DemographicsPatch(Strict):
    """Keys sent replace the stored ones (null clears one); keys left out stay as they are."""

    gender: Text100 | None = None
    pronouns: Text50 | None = None
    sexual_orientation: Text100 | None = None
    ethnicity: Annotated[list[Text100], Deduped] | None = Field(None, max_length=10)
    faith: Text100 | None = None


class ProfilePatch(Strict):
    """Fields left out stay as they are. The license type and booking link are set by the owner (G5), not here."""

    display_name: Text200 | None = Field(None, description="Null to clear (the account's name is shown).")
    photo_url: HttpsUrl | None = Field(None, description="An https URL of the photo; null to clear.")
    specializations: Annotated[list[Text100], Deduped] = omittable(max_length=30)
    languages: Annotated[list[Text50], Deduped] = omittable(max_length=20)
    highlights: Annotated[list[Text200], Deduped] = omittable(max_length=10)
    bio: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000, pattern=MULTILINE)] | None = None
    education: list[Education] = omittable(max_length=20, description="Replaces the whole list.")
    demographics: DemographicsPatch = omittable()


class ProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    group_id: uuid.UUID
    user_id: uuid.UUID
    license_type: str = Field(description="Set when the owner adds the provider (G3, G5); not editable here.")
    booking_slug: str = Field(description="The provider's booking link: /v1/booking/{booking_slug} (C5).")
    display_name: str | None
    photo_url: str | None
    specializations: list[str]
    languages: list[str]
    highlights: list[str]
    bio: str | None
    education: list[Education]
    demographics: Demographics
    updated_at: datetime


# --- practice locations ---------------------------------------------------------------------------


class LocationIn(Strict):
    id: uuid.UUID | None = Field(None, description="An active location of this provider to change; leave out to add one.")
    label: Text100 = Field(description="e.g. 'Downtown office'")
    address_line1: Text200
    address_line2: Text200 | None = None
    city: Text100
    state: Annotated[str, Field(max_length=2), checked(us_state, "us_state")] = Field(
        description="Two-letter USPS code of a state, DC or a territory."
    )
    postal_code: Annotated[str, Field(max_length=10), checked(validation.us_zip, "us_zip")] = Field(
        description="ZIP or ZIP+4."
    )


class LocationsPatch(Strict):
    locations: list[LocationIn] = Field(
        max_length=50,
        description="The provider's active locations: listed ones are added or changed, active ones not listed are archived.",
    )


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    label: str
    address_line1: str
    address_line2: str | None
    city: str
    state: str
    postal_code: str
    created_at: datetime


class LocationsOut(BaseModel):
    locations: list[LocationOut]


# --- intake form ----------------------------------------------------------------------------------

QuestionKind = Literal["text", "long_text", "yes_no", "single_choice", "multi_choice", "date"]
MAX_QUESTIONS = 100


class Question(Strict):
    id: str = Field(pattern=validation.QUESTION_ID.pattern, description="Short slug, unique in the form: a-z, 0-9, _ and -.")
    label: Text500
    kind: QuestionKind
    options: list[Text200] | None = Field(
        None, min_length=2, max_length=50, description="The choices: required for single_choice and multi_choice, absent otherwise."
    )
    required: bool = False

    @model_validator(mode="after")
    def _options_match_kind(self) -> "Question":
        if self.kind in validation.CHOICE_KINDS:
            if self.options is None:
                raise PydanticCustomError("options_required", "a {kind} question needs options", {"kind": self.kind})
            if len({o.casefold() for o in self.options}) != len(self.options):
                raise PydanticCustomError("options_unique", "each option may appear only once")
        elif self.options is not None:
            raise PydanticCustomError("options_not_allowed", "only choice questions have options", {"kind": self.kind})
        return self


class IntakeFormPatch(Strict):
    questions: list[Question] = Field(max_length=MAX_QUESTIONS, description="The whole form, in order.")

    @model_validator(mode="after")
    def _unique_ids(self) -> "IntakeFormPatch":
        repeated = sorted(qid for qid, count in Counter(q.id for q in self.questions).items() if count > 1)
        if repeated:
            raise PydanticCustomError(
                "question_ids_unique", "question ids must be unique; repeated: {ids}", {"ids": ", ".join(repeated)}
            )
        return self


class IntakeFormOut(BaseModel):
    questions: list[Question]
    updated_at: datetime | None = Field(description="Null until the form is first saved.")
