"""Messages between the stages, one model per queue. Queue text is the model's JSON (camelCase).

The Functions host base64-decodes trigger messages, so senders use `Connections.queue(name)`,
which base64-encodes.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class QueueMessageModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")

    def to_text(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_text(cls, text: str | bytes):
        return cls.model_validate_json(text)


class PlanRequest(QueueMessageModel):
    """jobs-plan: resolve a pending job's targets (or, with `resume`, re-batch a resumed job's
    pending devices). `continuation` carries the hub query's position when a large group is
    planned across several invocations."""
    job_id: str
    resume: bool = False
    continuation: str | None = None
