"""The base of every lab.yaml section: unknown keys are errors (with a suggestion), values frozen."""

from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
