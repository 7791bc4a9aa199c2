"""What every queue trigger does with the message it is handed, before its stage runs."""
from __future__ import annotations

import logging

from pydantic import ValidationError

from shared.collaborators import MessageSender
from shared.messages import QueueMessageModel

logger = logging.getLogger(__name__)


def decode_or_refuse(model: type[QueueMessageModel], text: str | bytes, queue_name: str,
                     poison: MessageSender | None = None) -> object | None:
    """The message as `model`, or None when it is not one: then it is moved to the queue's
    poison queue at once, with an error log saying why (delivering it again cannot help)."""
    if poison is None:
        from shared.bootstrap import services  # the process's own, when a trigger asks
        poison = services().queue(f"{queue_name}-poison")
    try:
        return model.from_text(text)
    except ValidationError as error:
        why = "; ".join(f"{'.'.join(str(part) for part in issue['loc']) or 'message'}: {issue['msg']}"
                        for issue in error.errors())
        logger.error("refused a %s message, moved to %s-poison: %s", queue_name, queue_name, why)
        poison.send(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
        return None
