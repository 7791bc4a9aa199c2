"""Invoke user functions as the Python worker does: bind arguments, run, log one line.

Sync functions run on a thread pool (PYTHON_THREADPOOL_THREAD_COUNT, default
min(32, cpus + 4)); async functions all run on one event loop of their own, apart from the
host's I/O loop, as they run in the worker process apart from the host.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import threading
import time
import traceback
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import azure.functions as func
from azure.functions import _abc

from .app_loader import FunctionInfo

log = logging.getLogger("local.functions_host")


@dataclass
class InvocationResult:
    succeeded: bool
    return_value: object = None
    outputs: dict[str, object] = field(default_factory=dict)  # output binding name -> value set
    error: BaseException | None = None


class OutValue(func.Out):
    """What an `Out[T]` parameter receives."""

    def __init__(self) -> None:
        self._value = None

    def set(self, val) -> None:
        self._value = val

    def get(self):
        return self._value


class _TraceContext(_abc.TraceContext):
    trace_parent = property(lambda self: "")
    trace_state = property(lambda self: "")
    attributes = property(lambda self: {})


class _RetryContext(_abc.RetryContext):
    def __init__(self, retry_count: int, max_retry_count: int) -> None:
        self._counts = (retry_count, max_retry_count)

    retry_count = property(lambda self: self._counts[0])
    max_retry_count = property(lambda self: self._counts[1])
    exception = property(lambda self: None)


class InvocationContext(_abc.Context):
    def __init__(self, function: FunctionInfo, app_dir: Path, invocation_id: str, retry_count: int,
                 max_retry_count: int):
        self._invocation_id, self._function, self._app_dir = invocation_id, function, app_dir
        self._retry_context = _RetryContext(retry_count, max_retry_count)
        self._thread_local_storage = threading.local()

    invocation_id = property(lambda self: self._invocation_id)
    function_name = property(lambda self: self._function.name)
    function_directory = property(lambda self: str(self._app_dir))
    trace_context = property(lambda self: _TraceContext())
    retry_context = property(lambda self: self._retry_context)
    thread_local_storage = property(lambda self: self._thread_local_storage)


class Invoker:
    def __init__(self, app_dir: Path, thread_count: int | None = None, on_completed=lambda: None) -> None:
        self.app_dir = app_dir
        self._on_completed = on_completed  # called on the host loop after every invocation
        workers = thread_count or min(32, (os.cpu_count() or 1) + 4)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="function")
        self._async_loop = asyncio.new_event_loop()
        self._async_thread = threading.Thread(target=self._async_loop.run_forever, name="function-async", daemon=True)
        self._async_thread.start()

    async def invoke(self, function: FunctionInfo, trigger_value, trigger_label: str,
                     retry_count: int = 0, max_retry_count: int = 0) -> InvocationResult:
        """Run the function once; never raises for a failure of the function itself."""
        invocation_id = str(uuid.uuid4())
        context = InvocationContext(function, self.app_dir, invocation_id, retry_count, max_retry_count)
        kwargs, outs = bind_arguments(function, trigger_value, context)
        started = time.monotonic()
        try:
            value = await self._run(function, kwargs)
        except Exception as error:  # a failing function never stops the host
            _log_result(function, trigger_label, invocation_id, started, error)
            return InvocationResult(False, error=error)
        finally:
            self._on_completed()
        _log_result(function, trigger_label, invocation_id, started, None)
        return InvocationResult(True, value, {name: out.get() for name, out in outs.items()})

    async def _run(self, function: FunctionInfo, kwargs: dict):
        if function.is_async:
            future = asyncio.run_coroutine_threadsafe(function.user_function(**kwargs), self._async_loop)
            return await asyncio.wrap_future(future)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function.user_function, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._async_loop.call_soon_threadsafe(self._async_loop.stop)
        self._async_thread.join(timeout=5)


def bind_arguments(function: FunctionInfo, trigger_value, context) -> tuple[dict, dict[str, OutValue]]:
    """Match parameters to bindings by name; `context` gets the invocation context."""
    kwargs: dict = {}
    outs: dict[str, OutValue] = {}
    output_names = {binding.name for binding in function.output_bindings}
    for name in _parameters(function.user_function):
        if name == function.trigger.name:
            kwargs[name] = trigger_value
        elif name in output_names:
            kwargs[name] = outs[name] = OutValue()
        elif name == "context":
            kwargs[name] = context
    return kwargs, outs


def trigger_annotation(function: FunctionInfo):
    """The annotation of the trigger parameter (str, bytes, func.QueueMessage, ... or empty)."""
    return _annotations(function.user_function).get(function.trigger.name, inspect.Parameter.empty)


# Signatures are read once per function, not per invocation: evaluating string annotations for
# every message showed in profiles of the pipeline benchmark. Weakly keyed, so an app unloaded
# from an in-process host is not kept alive by the cache.
_SIGNATURES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _parameters(user_function) -> tuple[str, ...]:
    return _signature_of(user_function)[0]


def _annotations(user_function) -> dict:
    return _signature_of(user_function)[1]


def _signature_of(user_function) -> tuple[tuple[str, ...], dict]:
    cached = _SIGNATURES.get(user_function)
    if cached is None:
        try:
            signature = inspect.signature(user_function, eval_str=True)
        except Exception:  # an annotation that cannot be evaluated: treat as unannotated
            signature = inspect.signature(user_function)
        cached = _SIGNATURES[user_function] = (
            tuple(signature.parameters), {name: p.annotation for name, p in signature.parameters.items()})
    return cached


def _log_result(function: FunctionInfo, trigger_label: str, invocation_id: str, started: float,
                error: BaseException | None) -> None:
    duration = round((time.monotonic() - started) * 1000)
    outcome = "Failed" if error else "Succeeded"
    line = (f"Executed 'Functions.{function.name}' ({outcome}, Trigger={trigger_label}, "
            f"Id={invocation_id}, Duration={duration}ms)")
    if error is None:
        log.info(line)
    else:
        trace = "".join(traceback.format_exception(error)).rstrip()
        log.error("%s\n%s", line, trace)
